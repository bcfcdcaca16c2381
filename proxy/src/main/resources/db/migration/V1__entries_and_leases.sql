-- clicktls storage on PostgreSQL: one table of keys and values (the Storage interface) and one of leases.
-- Flyway applies this into the configured schema (it is the search_path while migrating).

-- Every write takes the next version from one sequence, so "what changed since version N" is one range query
-- for a node that missed notifications.
create sequence entry_version;

-- "C" collation: keys compare as bytes, so a prefix LIKE can use the primary key's index.
create table entry (
    key        text collate "C" primary key,
    value      bytea       not null,
    version    bigint      not null,
    updated_at timestamptz not null default now()
);

create index entry_by_version on entry (version);

-- Fencing tokens. Never reset or reused: a holder paused past its lease must find a larger token in the row.
create sequence lease_token;

-- One row per named lease (a name being ordered, the internal CA). A row whose expires_at has passed may be taken
-- over; its holder's token then no longer matches and its fenced writes are refused.
create table lease (
    name       text collate "C" primary key,
    token      bigint      not null,
    owner      text        not null,
    taken_at   timestamptz not null,
    expires_at timestamptz not null
);
