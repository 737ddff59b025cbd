"""Training on several processes: `torchrun --nproc_per_node N -m training.train ...` runs the same loop on
N ranks with DistributedDataParallel (gloo on the CPU, NCCL on GPUs); alone, it is one process as before.

Every rank builds the same global batches (same clips, seeded crops and gains) and trains on its shard of
each: rows split as evenly as they go (`np.array_split`), padded to the global batch's length. Each
rank's loss is weighted by its share of the rows, so the gradient DDP averages is the gradient of the global
batch's loss: N processes take the same step as one process with the same batch, within float rounding
(tests/test_training_ddp.py). torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; this module reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: `rank` of `world` processes, `local_rank` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that logs and writes checkpoints."""
        return self.rank == 0

    def shard(self, batch: np.ndarray) -> tuple[np.ndarray, float]:
        """This rank's rows of a global batch `[B, N]` -> (rows, weight of its loss). A rank left without
        a row (B < world) computes on row 0 with weight 0, so that every rank still takes part in the step."""
        if self.world == 1:
            return batch, 1.0
        rows = np.array_split(batch, self.world)[self.rank]
        if not len(rows):
            return batch[:1], 0.0
        return rows, len(rows) * self.world / len(batch)

    def mean(self, values: list[float]) -> list[float]:
        """The mean over ranks of each value (float64: the logs and the checks every rank must agree on)."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return (t / self.world).tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any (a decision every rank must take together)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def setup(device: str) -> tuple[Ranks, torch.device]:
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL on "cuda" (one GPU per local
    rank), gloo on "cpu" -> (ranks, this rank's device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(), torch.device(device)
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.startswith("cuda"):
        torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group("nccl")
        return ranks, torch.device("cuda", ranks.local_rank)
    dist.init_process_group("gloo")
    return ranks, torch.device(device)


def wrap(model: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """`model` in DistributedDataParallel (which broadcasts rank 0's weights), or itself alone."""
    if ranks.world == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def teardown(ranks: Ranks) -> None:
    if ranks.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
