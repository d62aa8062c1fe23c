"""ResumableCheckpointHook: checkpoints that survive a kill at any moment and
resume bit-exactly."""
import os
import os.path as osp

from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

from .checkpoint import (ATOMIC_BACKEND, CheckpointError, atomic_write,
                         checkpoint_steps, is_temporary_file,
                         read_resumable_checkpoint)
from .random_state import get_random_state, set_random_state


class _RestoreAfterReplay:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` while a
    resumed run replays the batches it has already trained on (MMEngine
    advances the data iterator by the resumed iteration count, which runs
    the data pipeline and draws random numbers). The saved random states go
    back just before the first new batch is loaded, where the uninterrupted
    run was when the checkpoint was written."""

    def __init__(self, loop, replay, state):
        self.loop = loop
        self.iterator = loop.dataloader_iterator
        self.replay = replay
        self.state = state

    def __iter__(self):
        return self

    def __next__(self):
        if self.replay > 0:
            self.replay -= 1
            return next(self.iterator)
        set_random_state(self.state)
        self.loop.dataloader_iterator = self.iterator
        return next(self.iterator)


@HOOKS.register_module()
class ResumableCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` (same arguments), made safe to kill and
    exact to resume.

    - **Atomic**: each checkpoint and ``last_checkpoint`` is written to a
      temporary file, flushed to disk and renamed into place; the oldest
      checkpoint (``max_keep_ckpts``) is removed only once the new one and
      ``last_checkpoint`` are in place. A kill at any moment leaves every
      listed checkpoint readable.
    - **Random states**: a checkpoint holds the Python, NumPy, torch CPU and
      CUDA random states of every rank (``random_state``), taken where the
      training stream is at that step. Validation is made neutral to them
      (saved before, restored after), since a resumed run does not repeat
      the validation that followed its checkpoint.
    - **Exact resume**: on ``resume`` the states are restored where the
      uninterrupted run was: before the first epoch of an epoch-based loop,
      after MMEngine's replay of the trained batches in an iteration-based
      one. Data loading in the main process (``num_workers=0``), in the
      workers of an iteration-based loop (the replay runs the same batches
      through them) and in non-persistent workers (seeded afresh each epoch)
      continues exactly; persistent workers of an epoch-based loop keep a
      state no checkpoint holds, which is reported on resume.
    - **Validated resume**: the checkpoint ``resume`` would load
      (``load_from`` or ``last_checkpoint``) is read first; if it is missing,
      empty, truncated or not a checkpoint, one warning line says so and the
      newest readable checkpoint of the work dir is used instead, or
      :class:`CheckpointError` stops the run if there is none.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._state_before_val = None
        self._random_state = None  # gathered for the checkpoint being saved
        self._resume_state = None  # to restore once training starts

    # --- resume -----------------------------------------------------------
    def _checkpoint_dir(self, runner):
        if self.out_dir is None or self.out_dir == runner.work_dir:
            return runner.work_dir
        # CheckpointHook.before_train adds the work dir's name to out_dir
        return osp.join(self.out_dir,
                        osp.basename(runner.work_dir.rstrip(osp.sep)))

    def _choose_resume_checkpoint(self, runner):
        """The checkpoint to resume from (None: start afresh, as MMEngine
        does when a work dir has none)."""
        directory = self._checkpoint_dir(runner)
        steps = checkpoint_steps(directory, self.filename_tmpl)
        pointed, problem = runner._load_from, None
        if pointed is None:
            last = osp.join(runner.work_dir, 'last_checkpoint')
            if osp.isfile(last):
                with open(last) as f:
                    pointed = f.read().strip()
                if not pointed:
                    problem = f'{last} is empty'
            elif not steps:
                return None
            else:
                problem = f'{last} is missing'
        if pointed and '://' in pointed:
            return pointed  # a remote checkpoint: MMEngine reads it
        if pointed:
            try:
                read_resumable_checkpoint(pointed)
                return pointed
            except CheckpointError as e:
                problem = str(e)
        for step in sorted(steps, reverse=True):
            path = steps[step]
            if pointed and osp.abspath(path) == osp.abspath(pointed):
                continue
            try:
                read_resumable_checkpoint(path)
            except CheckpointError as e:
                runner.logger.warning(f'skipping {e}')
                continue
            runner.logger.warning(
                f'{problem}: resuming from {path} instead, the newest '
                f'readable checkpoint in {directory}')
            return path
        raise CheckpointError(f'cannot resume: {problem}; and no readable '
                              f'checkpoint in {directory}')

    def before_run(self, runner):
        # Runner.train() calls before_run just before load_or_resume(): the
        # place to pick (and validate) what resume() will read.
        if getattr(runner, '_resume', False):
            runner._load_from = self._choose_resume_checkpoint(runner)

    def after_load_checkpoint(self, runner, checkpoint):
        if not getattr(runner, '_resume', False):
            return  # load_from: weights only, the run starts afresh
        saved = checkpoint.get('random_state')
        if not saved:
            runner.logger.warning(
                'the checkpoint holds no random states (not written by '
                f'{type(self).__name__}): the resumed run will not repeat '
                'the uninterrupted one exactly')
            return
        rank, world_size = get_dist_info()
        ranks = saved['ranks']
        if len(ranks) != world_size:
            runner.logger.warning(
                f'the checkpoint holds the random states of {len(ranks)} '
                f'processes, this run has {world_size}: it will not repeat '
                'the uninterrupted run exactly')
        self._resume_state = ranks[rank % len(ranks)]
        sampler = getattr(runner.train_dataloader, 'sampler', None)
        seed = saved.get('sampler_seed')
        if seed is not None and getattr(sampler, 'seed', seed) != seed:
            runner.logger.warning(
                f'the data sampler has seed {sampler.seed}, the checkpoint '
                f'was written with {seed}: set randomness.seed in the config '
                'for a resumed run to see the data in the same order')
        loader = runner.train_dataloader
        if (not isinstance(runner.train_loop, IterBasedTrainLoop)
                and getattr(loader, 'num_workers', 0) > 0
                and getattr(loader, 'persistent_workers', False)):
            runner.logger.warning(
                'persistent data loader workers of an epoch-based loop keep '
                'random states no checkpoint holds: data augmentation will '
                'differ from the uninterrupted run (set persistent_workers='
                'False or num_workers=0 for an exact resume)')

    def before_train(self, runner):
        local = '://' not in str(self.out_dir or runner.work_dir)
        if local and self.backend_args is None and \
                self.file_client_args is None:
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        super().before_train(runner)
        if is_main_process() and local and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):  # left by a killed run
                if is_temporary_file(name):
                    os.remove(osp.join(self.out_dir, name))
        state, self._resume_state = self._resume_state, None
        if state is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfterReplay(
                loop, loop.iter, state)
        else:
            set_random_state(state)

    # --- validation leaves the training random streams alone --------------
    def before_val(self, runner):
        self._state_before_val = get_random_state()

    def after_val(self, runner):
        state, self._state_before_val = self._state_before_val, None
        if state is not None:
            set_random_state(state)

    # --- saving -----------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint):
        if self._random_state is not None:
            checkpoint['random_state'] = self._random_state

    def _save_checkpoint_with_step(self, runner, step, meta):
        # As CheckpointHook's, but the oldest checkpoint goes only after the
        # new one and last_checkpoint are in place (MMEngine removes it
        # first: a kill in between could leave no checkpoint at all).
        stale = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # every rank's training random state (within validation: the one
        # validation started from); a collective, so on all ranks
        sampler = getattr(runner.train_dataloader, 'sampler', None)
        self._random_state = dict(
            ranks=all_gather_object(self._state_before_val
                                    or get_random_state()),
            sampler_seed=getattr(sampler, 'seed', None))
        state = get_random_state()  # saving must not draw from the streams
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        finally:
            self._random_state = None
            set_random_state(state)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'),
                     self.last_ckpt.encode())
        if stale is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(stale))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints
                self.file_backend.rmtree(path)
