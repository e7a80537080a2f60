import subprocess
import sys


def test_import_squall_does_not_import_torch():
    code = ("import sys, squall, squall.pipeline, squall.engines.numpy_engine, squall.bundle; "
            "sys.exit(2 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_public_api():
    import squall

    assert callable(squall.load_bundle) and callable(squall.reconstruct)
    assert squall.__version__
