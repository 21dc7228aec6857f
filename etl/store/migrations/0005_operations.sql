-- migration 0005: operations (issue 7). What a run was given (so a rerun can find its files again, wherever the
-- inbox moved them), its log file, and what the inbox did with every file it saw.

CREATE TABLE IF NOT EXISTS run_meta (
    run_id VARCHAR PRIMARY KEY,
    inputs JSON NOT NULL,               -- the input paths as given (absolute), files or folders
    forced BOOLEAN NOT NULL,            -- --force: files imported before were read again
    rerun_of VARCHAR,                   -- the run this one reran
    log_path VARCHAR,                   -- the run's JSON-lines log file
    skipped JSON                        -- files left out because an earlier run imported them: [{path, sha256, run_id}]
);

-- Every file the inbox handled: where it went and why. A content hash seen here or in files is not new.
CREATE TABLE IF NOT EXISTS inbox_files (
    sha256 VARCHAR NOT NULL,
    name VARCHAR NOT NULL,              -- the file's name in the inbox
    run_id VARCHAR,                     -- the run that read it (null: not read, e.g. a copy of a file seen before)
    outcome VARCHAR NOT NULL,           -- archived | failed | already_imported
    moved_to VARCHAR NOT NULL,          -- absolute path after the move
    note VARCHAR,
    handled_at TIMESTAMP NOT NULL
);
