"""What runs beside the monitors: the form, sealing on arrival, the encrypted store, export."""
