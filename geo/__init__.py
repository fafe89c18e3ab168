"""The geospatial core: pure, typed functions over (Geo)DataFrames in RD New.

Nothing here imports Flask or SQLAlchemy; the web app, the command line and the benchmarks all
call the same functions.
"""
