"""One command at a time per subject inside one process.

Two commands of the same process on one aggregate, both decided on the same cached state,
cannot both be appended: the expected sequence lets one through and refuses the other,
which is then read again, decided again and sent again. Under load that is most of the
work of a hot aggregate (the API's receives on 100 SKUs, fulfilment's reservations:
thousands of such self-inflicted conflicts in a few seconds). Taking turns per subject,
the second command waits for the first one's answer and is decided on the state it left,
from the cache, with no read and no conflict; conflicts remain for writers in other
processes, which the expected sequence still catches.

A turn is a dict entry while its holder runs, plus a queue of waiting futures when there
are others: an uncontended turn is a dict insert and a pop. The turn passes straight to
the next waiter (first come, first served); a waiter cancelled while it waits (a deadline)
leaves the queue, and one cancelled just after it was handed the turn passes it on.
"""

import asyncio
from collections import deque


class SubjectTurns:
    def __init__(self) -> None:
        self._held: dict[str, deque[asyncio.Future[None]]] = {}

    def take_free(self, subject: str) -> bool:
        """Takes `subject`'s turn now if nobody holds it (True); False, and nothing taken,
        when it is held (then `take` waits for it): the uncontended case without a
        coroutine."""
        if subject in self._held:
            return False
        self._held[subject] = deque()
        return True

    async def take(self, subject: str) -> None:
        """Returns once `subject` is this caller's until `give_back(subject)`."""
        waiting = self._held.get(subject)
        if waiting is None:
            self._held[subject] = deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give_back(subject)  # handed the turn, then cancelled: pass it on
            raise

    def give_back(self, subject: str) -> None:
        """Ends the caller's turn on `subject`: the next waiter's, if one waits."""
        waiting = self._held[subject]
        while waiting:
            turn = waiting.popleft()
            if not turn.done():  # a cancelled waiter's future is done: skipped
                turn.set_result(None)
                return
        del self._held[subject]

    def __len__(self) -> int:
        """Subjects held right now."""
        return len(self._held)
