"""The one test harness: what tests in every folder share.

Modules, from the ground up:

* `account`: the emulator's credentials (as config kwargs, TOML lines, environment
  variables, HTTP Basic auth, a JWT login form), its server URL and API paths;
* `config`: `Config` objects for the in-process emulator (`make_config`, `rc_config`) and
  TOML config files for real processes (`write_config`, `write_toml`);
* `database`: open a migrated database (`opened`), query it (`query`, `count_rows`, or as
  another program: `file_rows`), edit it with the real sqlite3 shell (`shell`), mirror
  records into it with plain SQL (`seed`);
* `transports`: httpx transports that make the emulator misbehave (`Faults`, `Crash`,
  `Interrupting`, `DropFirst`) and RingCentral error bodies (`rc_body`);
* `harsh`: transports that play RingCentral's harsher documented sync answers, and a
  loopback relay;
* `processes`: real `rcsync` processes (`run_rcsync`, `popen_rcsync`, `WatchProcess`)
  and `wait_for`;
* `mirror`: "the mirror equals the server" as checks (`mirror_problems`,
  `attachment_problems`, `assert_mirror_matches_remote`, `integrity_ok`);
* `inprocess`: worlds on the in-process emulator (`fast_emulator`, `make_client`, `World`,
  `PushEnv`, `ApiEnv`, `Archive`);
* `loopback`: worlds on the emulator served over 127.0.0.1 (`Served`, `served`,
  `WatchSetup`);
* `fake_rc`: a scriptable fake RingCentral and clock for the API client's unit tests;
* `spec`: the OpenAPI spec, parsed once, and `login` to an emulator;
* `fixtures`: the pytest fixtures built from all of these, registered for every test by
  tests/conftest.py (`engine`, `db_path`, `config`, `db`, `fast_emu`, `world`,
  `push_env`/`make_push_env`, `api_env`/`make_api_env`, `archive`, `emu`, `clock`,
  `client`, `validate`, `fake`, `cfg`, `store`, `make_client`, `helpers`, `live`,
  `served_env`/`make_served`, `make_setup`).
"""
