"""A separate process (an editor window) running subagent runs on the current agent of LETTA_LS_HOME.

``python run_process.py NAME RUNS LOG``: each run appends ``start NAME i <time>`` and ``end NAME i <time>``
to LOG around a short piece of work that commits one file, so a test can check that runs of two
processes never overlap and that every run's work reached main.
"""

import asyncio
import sys
import time

from letta_ls.session import Session
from letta_ls.subagents.runner import RunRequest, SubagentRunner


def note(log: str, line: str) -> None:
    with open(log, "a") as handle:
        handle.write(line + "\n")
        handle.flush()


async def main() -> None:
    name, runs, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    runner = SubagentRunner(Session())
    await runner.start()
    for i in range(runs):
        async def work(ctx, i=i):
            note(log, f"start {name} {i} {time.time()}")
            await asyncio.to_thread(ctx.operations().create, f"runs/{name}-{i}.md", f"run {i} of {name}",
                                    "done", f"{name} run {i}")
            await asyncio.sleep(0.4)
            note(log, f"end {name} {i} {time.time()}")
            return f"{name} run {i}"

        result = await runner.run(RunRequest("dream", work))
        print(f"RESULT {name} {i} {result.status}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
