/*
 * view.c - the engine's side of the projection interface: it hands every
 * appended event to each view the workspace was opened with.
 */
#include "internal.h"

int tl_views_apply(tl_txn *t, const tl_event *ev, const tl_task *before,
		   const tl_task *after, tl_err *err)
{
	for (size_t i = 0; i < t->db->views_len; i++) {
		const tl_view *v = t->db->views[i];
		tl_view_ctx vc = { t->db, t->cur, NULL, false };
		int rc = v->apply(&vc, ev, before, after, err);
		if (rc)
			return rc;
	}
	return 0;
}
