import subprocess
import sys


def test_import_squall_does_not_import_torch():
    code = (
        "import sys, squall, squall.pipeline, squall.engines.numpy_engine, squall.bundle; "
        "sys.exit(2 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_public_api():
    import squall

    assert callable(squall.load_bundle) and callable(squall.reconstruct)
    assert squall.__version__


def test_version_is_the_installed_metadata():
    from importlib.metadata import version

    import squall

    assert squall.__version__ == version("squall")


def test_squall_error_is_a_value_error_and_every_error_derives_from_it():
    import importlib
    import inspect
    import pkgutil

    import squall
    from squall.errors import SquallError

    assert issubclass(SquallError, ValueError)
    found = []
    for info in pkgutil.walk_packages(squall.__path__, "squall."):
        if (
            info.name.endswith("__main__")
            or info.name.startswith("squall.models")
            or info.name == "squall.engines.torch_engine"
        ):
            continue  # torch-only modules; their errors are SquallErrors raised by others
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == info.name
                and issubclass(cls, Exception)
                and not issubclass(cls, Warning)
            ):
                found.append(cls)
                assert issubclass(cls, SquallError), f"{cls.__module__}.{cls.__name__}"
    assert SquallError in found


def test_typed_package_marker_ships():
    from importlib.resources import files

    assert files("squall").joinpath("py.typed").is_file()


def test_detector_is_importable_from_the_package():
    from squall import Detector
    from squall.detect.detector import Detector as Same

    assert Detector is Same
    for method in ("fit", "score_samples", "predict", "detect", "save", "load"):
        assert callable(getattr(Detector, method))
