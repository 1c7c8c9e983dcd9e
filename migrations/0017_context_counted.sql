-- How a conversation turn fitted to its model's context window was
-- measured (gateway/conv_turn.c, docs/conversations.md "Counting tokens"):
-- 'provider' when the provider's own token counter was asked (near the
-- window, Anthropic and Gemini), 'estimate' otherwise; NULL when the turn
-- was not fitted to a known window.
ALTER TABLE requests ADD COLUMN context_counted TEXT;
