-- A replay of one event or a range (issue #19): the subscription goes back to just before the range's first
-- event, sends on through `replay_through` (a sequence number of the tenant's feed), and the statement that
-- records that delivery moves `position` on to `resume_position` (where it had got before the replay, or
-- further if a replay was already under way), so the events between are not sent twice. Both are in the row,
-- not in a dispatcher's memory: a crash or a lease taken over in the middle of a range carries on from here.
-- Both NULL: no range under way (every replay before this one, and a replay without an end, is "from here on").
ALTER TABLE webhook_subscriptions
    ADD COLUMN replay_through  bigint,
    ADD COLUMN resume_position bigint,
    ADD CONSTRAINT webhook_subscriptions_replay_range
        CHECK ((replay_through IS NULL) = (resume_position IS NULL) AND (replay_through IS NULL OR position < replay_through));
