"""DVC stages: one Typer command per stage; each validates params, then calls one library function."""
