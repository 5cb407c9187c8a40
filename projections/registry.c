/*
 * registry.c - the list of views.  A new view is one new file in
 * projections/ plus one line here.
 */
#include "tasklog_projections.h"
#include "tasklog_view.h"

extern const tl_view tl_view_tasks;         /* list.c: task list indexes */
extern const tl_view tl_view_timeline;      /* timeline.c */
extern const tl_view tl_view_notifications; /* notifications.c */

static const tl_view *const all[] = {
	&tl_view_tasks,
	&tl_view_timeline,
	&tl_view_notifications,
};

const tl_view *const *tl_views_all(size_t *len)
{
	*len = sizeof all / sizeof all[0];
	return all;
}

const char *tl_view_name(const tl_view *v)
{
	return v->name;
}
