"""The study's trainings as a dependency graph, run N at a time: local processes or Ray.

    python -m fxlib.grid --profile quick --jobs 2 --dry-run     # the plan
    python -m fxlib.grid --profile quick --jobs 2               # train what is missing
    python -m fxlib.grid --profile paper --engine ray --address auto

    from fxlib.grid import run_study_grid
    result = run_study_grid("smoke", jobs=2)
    result.ok, result.run_ids(), result.problems()

Modules, bottom up: ``graph`` (nodes, dependencies, estimated work), ``worker`` (train one
node; run folders packed for the wire), ``local`` (the engine interface and the local process
pool), ``ray_engine`` (Ray tasks), ``scheduler`` (dependencies first, N at a time, faults,
progress, the event log), ``study_grid`` (the study: plan, train, time, seed repetition).
Every engine trains the same configs into the same run folders as the notebooks do, so a
notebook run after the grid only reuses runs. How to run it on one machine, several GPUs or a
cluster: docs/grid.md.
"""
from .graph import GraphError, Node, nodes_from_plan, work
from .local import GRID_DIR, Job, LocalEngine, Outcome
from .scheduler import GridResult, NodeResult, run_nodes
from .study_grid import (ENGINES, StudyGridResult, cores, plan_table, probe_in,
                         run_study_grid)

__all__ = ["run_study_grid", "run_nodes", "StudyGridResult", "GridResult", "NodeResult",
           "Node", "GraphError", "nodes_from_plan", "work", "LocalEngine", "Job", "Outcome",
           "GRID_DIR", "ENGINES", "cores", "plan_table", "probe_in"]
