#!/bin/sh
# demo.sh - `make run`: a tour of tasklog through its real command line.
#
# Uses the workspace ${TASKLOG_DB:-./tasklog-data} (initialised on the first
# run) and the binary $TASKLOG (default build/tasklog).  Every write carries
# an idempotency key, so running the demo again appends nothing new and
# prints the same tasks.
set -eu

TASKLOG=${TASKLOG:-build/tasklog}
DB=${TASKLOG_DB:-./tasklog-data}

tl() {
	"$TASKLOG" --db "$DB" "$@"
}

say() {
	printf '\n== %s\n' "$*"
}

# The id of the task document that a --json write printed.
task_id() {
	sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p'
}

if ! tl stats >/dev/null 2>&1; then
	say "tasklog init ($DB)"
	tl init --tz UTC --week-start monday
fi

say "members"
members=$(tl member list --json)
for m in alice:Alice bob:Bob; do
	id=${m%%:*}
	case $members in
	*"\"id\":\"$id\""*) echo "member $id exists" ;;
	*) tl member add "$id" --name "${m#*:}" >/dev/null && echo "added $id" ;;
	esac
done
tl member list

say "tasks linked to CRM records"
call=$(tl task add --json --idempotency-key demo-call \
	--title "Call Dana about the renewal" --type call --link lead:42 \
	--due +1d --assignee alice --notes "Ask about next year's budget" |
	task_id)
email=$(tl task add --json --idempotency-key demo-email \
	--title "Send the proposal" --type email --link opportunity:7 \
	--due +3d --tag proposal | task_id)
meet=$(tl task add --json --idempotency-key demo-meeting \
	--title "Quarterly review" --type meeting --link account:acme \
	--due +7d --assignee bob | task_id)
follow=$(tl task add --json --idempotency-key demo-follow-up \
	--title "Follow up on the demo" --type follow_up --link contact:c-19 |
	task_id)
echo "call     $call"
echo "email    $email"
echo "meeting  $meet"
echo "follow   $follow"

say "assign, work on, complete and tag"
tl task assign "$email" bob --idempotency-key demo-assign-email >/dev/null
tl task assign "$follow" alice --idempotency-key demo-assign-follow >/dev/null
tl task status "$meet" in_progress --idempotency-key demo-meet-progress \
	>/dev/null
tl task tag "$call" renewal --idempotency-key demo-tag-call >/dev/null
tl task complete "$call" --idempotency-key demo-complete-call >/dev/null
tl task update "$email" --title "Send the signed proposal" \
	--idempotency-key demo-retitle-email >/dev/null
tl task show "$meet"

say "a bulk import: a task and two task commands, one transaction"
printf '%s\n' \
	'{"title": "Prepare the onboarding call", "type": "call", "link": "account:acme", "due_at": "+2d", "assignee": "bob", "idempotency_key": "demo-import-task"}' \
	'{"method": "task.update", "params": {"id": "'"$follow"'", "due": "+2d", "idempotency_key": "demo-import-due"}}' \
	'{"method": "task.tag", "params": {"id": "'"$meet"'", "tag": "q4", "idempotency_key": "demo-import-tag"}}' |
	tl import -

say "history of the call task"
tl task show "$call" --history

say "alice's task list, by due date"
tl task list --assignee alice --sort due

say "every active task"
tl task list

say "search titles and notes: any case, with or without accents"
tl task list --status todo --status completed --search "dana BUDGET"

say "bob's upcoming week"
tl upcoming --member bob --days 7

say "timeline of lead:42"
tl timeline lead:42

say "bob's notifications"
tl notifications --as bob

say "rebuild every view from the log"
tl rebuild

say "verify --replay (hash chain, versions, states, views, and the log imported again through every check)"
tl verify --replay

say "stats"
tl stats
