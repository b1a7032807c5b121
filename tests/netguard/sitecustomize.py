# Loaded automatically by Python in subprocesses started by the tests (PYTHONPATH points here).
import netguard

netguard.install()
