/*
 * registry.c - the list of views.  A new view is one new file in
 * projections/ plus one line here.
 */
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* One line per view: the tl_view its file defines. */
#define TL_VIEWS(X)                                                    \
	X(tl_view_tasks)         /* list.c: task list indexes */       \
	X(tl_view_timeline)      /* timeline.c */                      \
	X(tl_view_notifications) /* notifications.c */

#define DECLARE(v) extern const tl_view v;
TL_VIEWS(DECLARE)

#define ENTRY(v) &v,
static const tl_view *const all[] = { TL_VIEWS(ENTRY) };

const tl_view *const *tl_views_all(size_t *len)
{
	*len = sizeof all / sizeof all[0];
	return all;
}

const char *tl_view_name(const tl_view *v)
{
	return v->name;
}
