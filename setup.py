"""The package list, which pyproject.toml cannot give with the layout we want: the default
texts live in the top-level templates/sms/ and ship inside the package as app/templates/sms/
(the mapping and the package data are in pyproject.toml)."""

from setuptools import find_namespace_packages, setup

# packages.find in pyproject.toml cannot add a package mapped from outside app/: list them here.
setup(packages=[*find_namespace_packages(include=["app*"]), "app.templates.sms"])
