"""The kernel: the World, loop and driver, clock and stepper, object record and input gate,
events, codec, ids, naming, errors and the display registry. Imports nothing else of dosandbox.
"""
