"""D4RL-layout files: terminal rows kept without next_observations; hostile files refused.

The hand-computed file (17 rows, 4 episodes) is what D4RL's own ``qlearning_dataset`` keeps
15 rows of (2 terminals): it drops the timeout row 9 and the file's last row 16. We keep
the same 15 rows and both terminals; a terminal row's s' is its own s (never the next
episode's first state). Every bad file is a DatasetError naming the file, the key and the
first bad index.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from compose.data import D4RLHdf5Source, DatasetError
from compose.data.d4rl_io import read_d4rl

N = 17
TERMINAL_ROWS = (4, 13)  # episodes: 0-4 terminal, 5-9 timeout, 10-13 terminal, 14-16 file end
TIMEOUT_ROWS = (9,)


def _fields() -> dict[str, np.ndarray]:
    i = np.arange(N, dtype=np.float64)
    terminals = np.zeros(N, dtype=bool)
    terminals[list(TERMINAL_ROWS)] = True
    timeouts = np.zeros(N, dtype=bool)
    timeouts[list(TIMEOUT_ROWS)] = True
    return {
        "observations": np.stack([i, -i, 0.5 * i, np.ones(N)], 1),
        "actions": (np.sin(i) * 2.0)[:, None],
        "rewards": 100.0 + i,
        "terminals": terminals,
        "timeouts": timeouts,
    }


def _write(path: Path, **override: np.ndarray) -> Path:
    fields = {**_fields(), **override}
    with h5py.File(path, "w") as f:
        for key, value in fields.items():
            f.create_dataset(key, data=value)
    return path


def test_terminal_rows_are_kept_without_next_observations(tmp_path: Path) -> None:
    a = read_d4rl(_write(tmp_path / "hand.hdf5"))
    kept = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15]  # qlearning_dataset's rows
    assert len(a) == 15
    np.testing.assert_array_equal(a.rewards, 100.0 + np.array(kept))
    np.testing.assert_array_equal(np.flatnonzero(a.terminals), [4, 12])  # rows 4 and 13
    # s' = s_{t+1} inside an episode; a terminal row's s' is its own s
    nxt_rows = [1, 2, 3, 4, 4, 6, 7, 8, 9, 11, 12, 13, 13, 15, 16]
    np.testing.assert_array_equal(a.next_obs[:, 0], nxt_rows)
    # the rows before the dropped timeout and file-end rows are cut (timeouts), not ended
    np.testing.assert_array_equal(np.flatnonzero(a.timeouts), [8, 14])
    np.testing.assert_array_equal(np.flatnonzero(a.episode_starts), [0, 5, 9, 13])
    d = D4RLHdf5Source(path=tmp_path / "hand.hdf5", env_id="InvertedPendulum-v5").load()
    assert len(d) == 15 and int(d.terminals.sum()) == 2 and d.info.n_episodes == 4


def test_terminal_on_the_last_row_is_kept(tmp_path: Path) -> None:
    terminals = _fields()["terminals"].copy()
    terminals[-1] = True
    a = read_d4rl(_write(tmp_path / "end.hdf5", terminals=terminals))
    assert len(a) == 16 and a.terminals[-1] == 1 and a.next_obs[-1, 0] == N - 1


def _error(path: Path) -> str:
    with pytest.raises(DatasetError) as err:
        D4RLHdf5Source(path=path, env_id="InvertedPendulum-v5").load()
    return str(err.value)


def test_float64_beyond_float32_is_refused(tmp_path: Path) -> None:
    obs = _fields()["observations"].copy()
    obs[6, 1] = 1e300  # float32 would make it inf
    msg = _error(_write(tmp_path / "big.hdf5", observations=obs))
    assert "big.hdf5" in msg and "observations at index 6" in msg and "float32" in msg
    rew = _fields()["rewards"].copy()
    rew[11] = -4e38
    assert "rewards at index 11" in _error(_write(tmp_path / "r.hdf5", rewards=rew))


def test_nan_and_non_flag_values_in_terminals_are_refused(tmp_path: Path) -> None:
    term = _fields()["terminals"].astype(np.float64)
    term[7] = np.nan
    msg = _error(_write(tmp_path / "nan.hdf5", terminals=term))
    assert "terminals has a NaN or inf value at index 7" in msg
    term[7] = 0.5
    msg = _error(_write(tmp_path / "half.hdf5", terminals=term))
    assert "terminals at index 7 is 0.5, expected 0 or 1" in msg
    tout = _fields()["timeouts"].astype(np.float64)
    tout[3] = 2.0
    assert "timeouts at index 3" in _error(_write(tmp_path / "t.hdf5", timeouts=tout))


def test_length_mismatch_names_the_array(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path / "short.hdf5", terminals=_fields()["terminals"][:-2]))
    assert "terminals has 15 rows where observations has 17" in msg
    assert "actions" not in msg.split("rows where")[0]


def test_bit_flipped_files_are_clear_errors(tmp_path: Path) -> None:
    """Any single corrupted byte: the file loads (a flipped value that is still valid) or
    a DatasetError names it; never an h5py exception (which the CLI reports as a crash)."""
    good = _write(tmp_path / "good.hdf5").read_bytes()
    bad = tmp_path / "flipped.hdf5"
    errors = 0
    for offset in range(0, len(good), 13):
        data = bytearray(good)
        data[offset] ^= 0xFF
        bad.write_bytes(bytes(data))
        try:
            read_d4rl(bad)
        except DatasetError as exc:
            assert "flipped.hdf5" in str(exc)
            errors += 1
    assert errors > 0


def test_cli_import_of_a_damaged_file_exits_2(tmp_path: Path, minari_store: Path) -> None:
    from click.testing import CliRunner

    from compose.cli import cli

    path = tmp_path / "damaged.hdf5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    res = CliRunner().invoke(
        cli, ["data", "import-d4rl", str(path), "--env", "InvertedPendulum-v5"]
    )
    assert res.exit_code == 2, res.output
    assert "damaged.hdf5" in res.output and "Traceback" not in res.output
