"""Proposals waiting for moderation, as posted in the moderators' group.

One row per proposal posted there: the group, the post's message id (known
once the outbox has sent it) and the id of the bot's question for a
rejection's reason, so that a moderator's reply to that question is
recognised as the reason. SQL only, like the rest of the staff side.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage.upsert import insert_for


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    proposal_id: int
    chat_id: int
    post_message_id: int | None
    prompt_message_id: int | None


class SqlProposalReviews:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def posted(self, proposal_id: int, chat_id: int) -> None:
        """The proposal is being posted to this group (its message id comes later)."""
        await self.session.execute(
            insert_for(self.session, m.ProposalReview)
            .values(proposal_id=proposal_id, group_chat_id=chat_id)
            .on_conflict_do_nothing(index_elements=["proposal_id"]))

    async def get(self, proposal_id: int) -> ReviewRecord | None:
        row = await self.session.get(m.ProposalReview, proposal_id,
                                     populate_existing=True)
        return ReviewRecord(row.proposal_id, row.group_chat_id, row.post_message_id,
                            row.prompt_message_id) if row else None

    async def set_post(self, proposal_id: int, message_id: int) -> None:
        await self.session.execute(
            update(m.ProposalReview).where(m.ProposalReview.proposal_id == proposal_id)
            .values(post_message_id=message_id).execution_options(synchronize_session=False))

    async def set_prompt(self, proposal_id: int, chat_id: int, message_id: int) -> None:
        """The latest question for a reason: a reply to it is the reason."""
        await self.session.execute(
            update(m.ProposalReview).where(m.ProposalReview.proposal_id == proposal_id)
            .values(prompt_chat_id=chat_id, prompt_message_id=message_id)
            .execution_options(synchronize_session=False))

    async def by_prompt(self, chat_id: int, message_id: int) -> int | None:
        """The proposal whose question for a reason this message is."""
        return (await self.session.execute(select(m.ProposalReview.proposal_id).where(
            m.ProposalReview.prompt_chat_id == chat_id,
            m.ProposalReview.prompt_message_id == message_id))).scalar_one_or_none()
