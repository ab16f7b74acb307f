"""Greetings, thanks and goodbyes: what a student says to a chat that is not a question.

"hello" was answered with three quotes about dual power, "Thanks!" with the sentence in
which Lih thanks his conference's organizers, and "thanks" after an answer would have been
read as a follow-up and answered again. None of them asks the readings anything, so they
are refused with that reason (`SMALL_TALK`), before retrieval, and with no "possibly
related" passages.

A message is small talk when every word of it is a word of courtesy or a function word, and
one of them greets, thanks or takes leave; or when it speaks to the assistant ("you") with no
word but function words and words about an assistant ("Who are you?", "What can you do?",
"Are you a bot?"), which used to be refused as a follow-up with nothing to go on. A
message with any word of its own ("Thanks, and what did Lenin argue?") is a question.
None of the 22,443 SQuAD v1.1 and 2.0 dev questions, and none of the 214 questions of the
eval sets (`evals/eval_set.jsonl`, `holdout.jsonl`, `followups.jsonl`), is small talk by
this rule.
"""

from __future__ import annotations

from index.lexicon import WORD

SMALL_TALK = ("That is not a question about the readings. This assistant answers only with "
              "sentences quoted from them: ask about what they say.")

# Words that make a message a greeting, thanks or goodbye.
_COURTESY = frozenset("""
hi hello hey hiya howdy heya yo greetings morning afternoon evening
thanks thank thx ty cheers ta appreciated appreciate
bye goodbye goodnight farewell cya
ok okay k kk
""".split())
# Words that may come with them without asking anything.
_ALONG = frozenset("""
good great nice cool awesome perfect wonderful brilliant lovely excellent fine super
so very much lot lots a an the you your u all there again for that this it its is was
helps helped helpful help useful interesting clear
i we me my oh ah wow lol haha hmm well yes yeah yep no nope sure alright right
bot chatbot friend everyone everybody folks guys
see later soon now then got understood
""".split())


# "Who are you?", "What can you do?": about the assistant, not the readings.
_ADDRESSED = frozenset({"you", "your", "yourself", "u"})
_ABOUT_ASSISTANT = frozenset("""
who what how why where are is was do does did can could will would should may might
help work works answer answers know name called made built real human person ai robot
bot chatbot assistant program able even here there this that doing for me us with
a an the anything everything things
""".split())


def is_small_talk(message: str) -> bool:
    """True when `message` only greets, thanks or says goodbye, or asks about the assistant
    itself (see the module docstring)."""
    words = [w.lower() for w in WORD.findall(message)]
    if not words:
        return False
    if any(w in _COURTESY for w in words) and all(w in _COURTESY or w in _ALONG for w in words):
        return True
    return any(w in _ADDRESSED for w in words) and all(
        w in _ADDRESSED or w in _ABOUT_ASSISTANT or w in _COURTESY or w in _ALONG
        for w in words)
