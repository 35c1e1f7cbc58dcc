"""Simulated people and groups: they produce the updates a real client would.

Every action is ``async`` and returns a :class:`~.records.Sent`: without a
webhook the update is queued for getUpdates (``sent.mode == "queue"``); with a
webhook it is POSTed at once and ``sent.status`` is the bot's HTTP answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .records import FORBIDDEN_REASONS, CallbackRecord, ChatState, Sent, SentMessage, UserMessage

if TYPE_CHECKING:
    from .server import FakeBotAPI

_DEEP_LINK_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class SimUser:
    """A person talking to the bot; their private chat id equals their user id."""

    def __init__(
        self,
        fake: FakeBotAPI,
        id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        last_name: str | None,
    ) -> None:
        self.fake = fake
        self.id = id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.last_name = last_name

    def __repr__(self) -> str:
        return f"SimUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    # ------------------------------------------------------------------ reading

    def messages(self) -> list[SentMessage]:
        """What the bot sent to this user's private chat."""
        return self.fake.messages(self.id)

    def last_message(self) -> SentMessage:
        return self.fake.last_message(self.id)

    # ------------------------------------------------------------------ messages

    def _chat(self, chat: SimGroup | ChatState | None) -> ChatState:
        if chat is None:
            state = self.fake.chat(self.id)
            if state.forbidden == FORBIDDEN_REASONS["blocked"]:
                # The client shows "Restart" instead of a text field.
                raise RuntimeError(f"{self!r} blocked the bot; call unblock_bot() first")
            state.started = True
            return state
        return chat.state if isinstance(chat, SimGroup) else chat

    def _message(
        self,
        chat: SimGroup | ChatState | None,
        content: dict[str, Any],
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        state = self._chat(chat)
        message: dict[str, Any] = {
            "message_id": state.next_message_id,
            "from": self.as_user(),
            "chat": state.as_chat(),
            "date": self.fake.unix_now(),
        }
        state.next_message_id += 1
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if state.is_forum:
                message["is_topic_message"] = True
        if reply_to is not None:
            replied = self.fake._find_any(state.id, reply_to)
            if replied is not None:
                message["reply_to_message"] = replied
        message.update(content)
        self.fake._user_messages[(state.id, message["message_id"])] = UserMessage(
            state.id, message["message_id"], message
        )
        return message

    async def _send(self, message: dict[str, Any], kind: str = "message") -> Sent:
        return await self.fake.emit(self.fake.new_update(kind, message))

    async def send_text(
        self,
        text: str,
        entities: list[dict[str, Any]] | None = None,
        *,
        chat: SimGroup | ChatState | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Sent:
        """A text message (in the private chat, or ``chat=`` a group)."""
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return await self._send(
            self._message(chat, content, thread_id=thread_id, reply_to=reply_to)
        )

    async def send_command(
        self,
        command: str,
        args: str | None = None,
        *,
        chat: SimGroup | ChatState | None = None,
        mention: bool = False,
        thread_id: int | None = None,
    ) -> Sent:
        """``/command args`` with its bot_command entity; ``mention`` adds @botname."""
        name = command if command.startswith("/") else f"/{command}"
        if mention:
            name = f"{name}@{self.fake.bot_username}"
        text = f"{name} {args}" if args else name
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_len(name)}
        return await self.send_text(text, [entity], chat=chat, thread_id=thread_id)

    async def open_deep_link(self, payload: str) -> Sent:
        """Open t.me/<bot>?start=<payload>: the client sends "/start <payload>".

        Raises ValueError for a payload Telegram links cannot carry (over 64
        characters or outside A-Z a-z 0-9 _ -): a bug in the link, not in the user.
        """
        if not _DEEP_LINK_RE.match(payload):
            raise ValueError(f"invalid deep-link payload {payload!r}")
        return await self.send_command("/start", payload)

    async def send_sticker(
        self, emoji: str = "👍", *, chat: SimGroup | ChatState | None = None
    ) -> Sent:
        file_id = self.fake._new_file_id("CAACAgIAAx")
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-8:]}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send(self._message(chat, {"sticker": sticker}))

    async def send_photo(
        self,
        caption: str | None = None,
        *,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        chat: SimGroup | ChatState | None = None,
    ) -> Sent:
        file_id = self.fake._new_file_id("AgACAgQAAx")
        self.fake.files[file_id] = (content, f"{file_id}.jpg")
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id[-8:]}",
                "width": 1280,
                "height": 960,
                "file_size": len(content),
            }
        ]
        body: dict[str, Any] = {"photo": photo}
        if caption:
            body["caption"] = caption
        return await self._send(self._message(chat, body))

    async def send_voice(
        self, duration: int = 3, *, chat: SimGroup | ChatState | None = None
    ) -> Sent:
        file_id = self.fake._new_file_id("AwACAgQAAx")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-8:]}",
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return await self._send(self._message(chat, {"voice": voice}))

    async def send_location(
        self,
        latitude: float = 40.4168,
        longitude: float = -3.7038,
        *,
        chat: SimGroup | ChatState | None = None,
    ) -> Sent:
        location = {"latitude": latitude, "longitude": longitude}
        return await self._send(self._message(chat, {"location": location}))

    async def send_contact(
        self,
        phone_number: str = "+34600000000",
        first_name: str | None = None,
        *,
        own: bool = True,
        chat: SimGroup | ChatState | None = None,
    ) -> Sent:
        """A shared contact; ``own`` makes it the user's own (user_id set)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
        }
        if own:
            contact["user_id"] = self.id
        return await self._send(self._message(chat, {"contact": contact}))

    async def send_document(
        self,
        file_name: str = "propuesta.pdf",
        content: bytes = b"%PDF-1.4 fake",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        *,
        chat: SimGroup | ChatState | None = None,
    ) -> Sent:
        """A document; its bytes can be fetched with getFile and the file URL."""
        file_id = self.fake._new_file_id("BQACAgQAAx")
        self.fake.files[file_id] = (content, file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-8:]}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        body: dict[str, Any] = {"document": document}
        if caption:
            body["caption"] = caption
        return await self._send(self._message(chat, body))

    async def edit_message(
        self, message_id: int, new_text: str, *, chat: SimGroup | ChatState | None = None
    ) -> Sent:
        """The user edits an earlier message: an ``edited_message`` update."""
        state = self._chat(chat)
        stored = self.fake._user_messages.get((state.id, message_id))
        if stored is None or stored.message["from"]["id"] != self.id:
            raise ValueError(f"{self!r} has no message {message_id} in chat {state.id}")
        edited = {**stored.message, "text": new_text, "edit_date": self.fake.unix_now()}
        edited.pop("entities", None)
        stored.message = edited
        return await self._send(edited, "edited_message")

    # ------------------------------------------------------------------ buttons

    async def press(self, message: SentMessage | int, button: str) -> Sent:
        """Press a button of the bot's message, by its text or its callback_data.

        The button must be in the message's current inline keyboard (else
        AssertionError); the press is registered and must be answered.
        """
        chat_id, message_id = (
            (message.chat_id, message.message_id)
            if isinstance(message, SentMessage)
            else (self.id, message)
        )
        try:
            current = self.fake.message(chat_id, message_id)  # the latest version
        except KeyError:
            raise AssertionError(f"the bot sent no message {message_id} to {chat_id}") from None
        if current.deleted:
            raise AssertionError(f"message {current.message_id} was deleted")
        candidates = [
            b for row in (current.reply_markup or {}).get("inline_keyboard", []) for b in row
        ]
        chosen = next((b for b in candidates if b.get("text") == button), None) or next(
            (b for b in candidates if b.get("callback_data") == button), None
        )
        if chosen is None:
            raise AssertionError(
                f"no button {button!r} in message {current.message_id}: {current.buttons}"
            )
        if "callback_data" not in chosen:
            raise AssertionError(f"button {button!r} has no callback_data: {chosen}")
        state = self.fake.chat(current.chat_id)
        if state.type == "private":
            state.started = True
        return await self._callback(
            chosen["callback_data"], state, self.fake.message_json(current), current.message_id
        )

    async def press_raw(
        self,
        data: str,
        message_id: int | None = None,
        *,
        chat: SimGroup | ChatState | None = None,
    ) -> Sent:
        """A callback query with arbitrary data: forged, replayed or stale.

        With ``message_id`` of an existing bot message, the query refers to it;
        otherwise to an inaccessible message (date 0), as Telegram sends for
        messages the bot can no longer see.
        """
        state = self._chat(chat)
        message: dict[str, Any]
        existing = self.fake._bot_message(state.id, message_id) if message_id is not None else None
        if existing is not None:
            message = self.fake.message_json(existing)
        else:
            message = {"chat": state.as_chat(), "message_id": message_id or 1, "date": 0}
        return await self._callback(data, state, message, message_id)

    async def _callback(
        self, data: str, chat: ChatState, message: dict[str, Any], message_id: int | None
    ) -> Sent:
        query_id = self.fake._new_query_id()
        self.fake._register_callback(
            CallbackRecord(
                query_id=query_id,
                user_id=self.id,
                chat_id=chat.id,
                message_id=message_id,
                data=data,
                created_at=self.fake.now(),
            )
        )
        query = {
            "id": query_id,
            "from": self.as_user(),
            "message": message,
            "chat_instance": str(abs(chat.id) * 7919 % 10**18),
            "data": data,
        }
        return await self._send(query, "callback_query")

    # ------------------------------------------------------------------ membership

    async def block_bot(self) -> Sent:
        """The user blocks the bot: my_chat_member (kicked); sends then get 403."""
        state = self.fake.chat(self.id)
        update = self._member_update(state, self, "member", "kicked")
        self.fake.block(self.id, "blocked")
        return await self.fake.emit(update)

    async def unblock_bot(self) -> Sent:
        """The user presses Restart: my_chat_member (member) and the bot may write again."""
        state = self.fake.chat(self.id)
        self.fake.unblock(self.id)
        state.started = True
        return await self.fake.emit(self._member_update(state, self, "kicked", "member"))

    def _member_update(self, chat: ChatState, actor: SimUser, old: str, new: str) -> dict[str, Any]:
        return self.fake.new_update(
            "my_chat_member",
            {
                "chat": chat.as_chat(),
                "from": actor.as_user(),
                "date": self.fake.unix_now(),
                "old_chat_member": _member(self.fake.bot_user(), old),
                "new_chat_member": _member(self.fake.bot_user(), new),
            },
        )


class SimGroup:
    """A group or supergroup (optionally a forum) the bot is in."""

    def __init__(self, fake: FakeBotAPI, state: ChatState) -> None:
        self.fake = fake
        self.state = state

    def __repr__(self) -> str:
        return f"SimGroup(id={self.state.id}, title={self.state.title!r})"

    @property
    def id(self) -> int:
        return self.state.id

    @property
    def chat_id(self) -> int:
        return self.state.id

    def messages(self) -> list[SentMessage]:
        return self.fake.messages(self.id)

    def last_message(self) -> SentMessage:
        return self.fake.last_message(self.id)

    def create_topic(self, name: str) -> int:
        """A forum topic created by a person (no update); returns its thread id."""
        if not self.state.is_forum:
            raise ValueError(f"{self!r} is not a forum")
        thread_id = self.state.next_message_id
        self.state.next_message_id += 1
        self.state.topics[thread_id] = name
        return thread_id

    def delete_topic(self, thread_id: int) -> None:
        """Delete a topic: later sends to it get "message thread not found"."""
        del self.state.topics[thread_id]

    async def add_bot(self, by: SimUser, status: str = "member") -> Sent:
        """Someone adds the bot (my_chat_member left -> member/administrator)."""
        self.fake.left_chats.discard(self.id)
        self.fake.unblock(self.id)
        return await self.fake.emit(self._member_update(by, "left", status))

    async def remove_bot(self, by: SimUser) -> Sent:
        """Someone removes the bot: my_chat_member (kicked); sends then get 403."""
        update = self._member_update(by, "member", "kicked")
        self.fake.block(self.id, "kicked")
        return await self.fake.emit(update)

    def _member_update(self, by: SimUser, old: str, new: str) -> dict[str, Any]:
        bot = self.fake.bot_user()
        return self.fake.new_update(
            "my_chat_member",
            {
                "chat": self.state.as_chat(),
                "from": by.as_user(),
                "date": self.fake.unix_now(),
                "old_chat_member": _member(bot, old),
                "new_chat_member": _member(bot, new),
            },
        )

    async def migrate(self, new_chat_id: int, by: SimUser) -> SimGroup:
        """Upgrade to a supergroup: sends to the old id then answer 400 with
        migrate_to_chat_id; the service messages of both chats are emitted."""
        new_state = self.fake.migrate(self.id, new_chat_id)
        old_message = {
            "message_id": self.state.next_message_id,
            "from": by.as_user(),
            "chat": self.state.as_chat(),
            "date": self.fake.unix_now(),
            "migrate_to_chat_id": new_chat_id,
        }
        new_message = {
            "message_id": 1,
            "from": by.as_user(),
            "chat": new_state.as_chat(),
            "date": self.fake.unix_now(),
            "migrate_from_chat_id": self.id,
        }
        new_state.next_message_id = 2
        await self.fake.emit(self.fake.new_update("message", old_message))
        await self.fake.emit(self.fake.new_update("message", new_message))
        return SimGroup(self.fake, new_state)


def _member(user: dict[str, Any], status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"user": user, "status": status}
    if status == "kicked":
        member["until_date"] = 0
    elif status == "administrator":
        member.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
            }
        )
    return member
