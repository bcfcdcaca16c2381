-- A deleted key leaves a mark with the next version, so that a node that missed the notification (its listening
-- connection was down) still learns of the deletion when it asks what changed since the last version it saw.
-- Marks older than a week are pruned at start: a node away longer reloads everything anyway.
create table entry_deleted (
    key        text collate "C" primary key,
    version    bigint      not null,
    deleted_at timestamptz not null default now()
);

create index entry_deleted_by_version on entry_deleted (version);
