"""The embedder benchmark runs each embedder in its own process and prints one row each, plus their ratios."""
from eval import embed_bench
from tests.conftest import SEEDS


def test_benchmark_prints_a_row_per_embedder(capsys):
    assert embed_bench.main(["--docs", str(SEEDS), "--repeats", "1", "--embedders", "multilingual-e5-small"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| multilingual-e5-small"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "1" and int(cells[3]) >= 1 and float(cells[4]) > 0 and float(cells[6]) > 0


def test_missing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert embed_bench.main(["--docs", str(tmp_path / "nowhere")]) == 2
    assert "no such documents folder" in capsys.readouterr().err
