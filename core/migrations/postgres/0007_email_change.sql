-- Support's email change (`gatehouse user change-email OLD NEW`): the new address waits on its
-- confirmation link (an email token of purpose 'change_email'); nothing changes until it is used.
ALTER TABLE email_tokens ADD COLUMN new_email TEXT;
