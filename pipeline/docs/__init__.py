"""The generated blocks of the README and docs/: each rendered from committed files under `reports/`
(`seenn docs` writes them, `seenn docs --check` names a stale one). Kept out of `pipeline/report`, which
the reporting stages depend on, so that a change to a docs block never makes a stage stale."""
