"""Package layout: everything under rxdesk/, plus the top-level styles/ shipped as rxdesk.styles."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["rxdesk", "rxdesk.*"]) + ["rxdesk.styles"],
    package_dir={"rxdesk.styles": "styles"},
    package_data={"rxdesk.styles": ["*.tcss"]},
)
