"""The mail providers' documented sample webhook payloads, as test data for mailbox feedback.

Each constant names the documentation example it reproduces. Where a sample was trimmed
(long header lists) or varied (another bounce type), the comment says so; values that
drive classification are as documented. `sns_notification` wraps an SES notification the
way SNS delivers it; `tests/support/feedback_signing.py` signs any of these.
"""

from __future__ import annotations

import copy
import json
from typing import Any

JSON = dict[str, Any]

# --- Amazon SES: "Amazon SNS notification examples for Amazon SES" ------------------------

_SES_HEADERS: list[JSON] = [
    {"name": "From", "value": '"John Doe" <john@example.com>'},
    {
        "name": "To",
        "value": '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>, '
        '"Richard Doe" <richard@example.com>',
    },
    {"name": "Message-ID", "value": "custom-message-ID"},
    {"name": "Subject", "value": "Hello"},
    {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
    {"name": "Content-Transfer-Encoding", "value": "base64"},
    {"name": "Date", "value": "Wed, 27 Jan 2016 14:05:45 +0000"},
]
_SES_COMMON_HEADERS: JSON = {
    "from": ["John Doe <john@example.com>"],
    "date": "Wed, 27 Jan 2016 14:05:45 +0000",
    "to": [
        "Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, "
        "Richard Doe <richard@example.com>"
    ],
    "messageId": "custom-message-ID",
    "subject": "Hello",
}


def _ses_mail(message_id: str) -> JSON:
    return {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "john@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
        "headersTruncated": False,
        "headers": copy.deepcopy(_SES_HEADERS),
        "commonHeaders": copy.deepcopy(_SES_COMMON_HEADERS),
    }


# "Bounce notification with a DSN"
SES_BOUNCE_WITH_DSN: JSON = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": _ses_mail("00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"),
}

# "Bounce notification without a DSN": two bounced recipients in one notification
SES_BOUNCE_WITHOUT_DSN: JSON = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {"emailAddress": "jane@example.com"},
            {"emailAddress": "richard@example.com"},
        ],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": _ses_mail("00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"),
}

# "Complaint notification with a feedback report"
SES_COMPLAINT_WITH_FEEDBACK: JSON = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": _ses_mail("000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"),
}

# "Complaint notification without a feedback report"
SES_COMPLAINT_WITHOUT_FEEDBACK: JSON = {
    "notificationType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
    },
    "mail": _ses_mail("0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000"),
}

# "Amazon SNS delivery notification example" (headers trimmed to the To header's one address)
SES_DELIVERY: JSON = {
    "notificationType": "Delivery",
    "mail": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
        "source": "john@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "destination": ["jane@example.com"],
    },
    "delivery": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    },
}

# "Amazon SNS notification contents for Amazon SES": the example `bounce` object (one
# recipient failed, one only delayed) with the example `mail` object, as one notification.
SES_BOUNCE_OBJECT_EXAMPLE: JSON = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "status": "5.0.0",
                "action": "failed",
                "diagnosticCode": "smtp; 550 user unknown",
                "emailAddress": "recipient1@example.com",
            },
            {"status": "4.0.0", "action": "delayed", "emailAddress": "recipient2@example.com"},
        ],
        "reportingMTA": "example.com",
        "timestamp": "2012-05-25T14:59:38.605Z",
        "feedbackId": "000001378603176d-5a4b5ad9-6f30-4198-a8c3-b1eb0c270a1d-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": {
        "timestamp": "2018-10-08T14:05:45 +0000",
        "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:us-west-2:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "destination": ["recipient@example.com"],
    },
}

# "Examples of event data that Amazon SES publishes to Amazon SNS": Bounce record (event
# publishing names the type `eventType`; the mail object's headers are trimmed).
SES_EVENT_PUBLISHING_BOUNCE: JSON = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": {
        "timestamp": "2017-08-05T00:40:02.012Z",
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
    },
}

# --- Amazon SNS: "Amazon SNS message and JSON formats" -----------------------------------

SNS_TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:MyTopic"
SNS_CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"

# "HTTP/HTTPS notification JSON format" (Signature as documented: an EXAMPLE, not valid)
SNS_NOTIFICATION_EXAMPLE: JSON = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": SNS_TOPIC_ARN,
    "Subject": "My First Message",
    "Message": "Hello world!",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "SignatureVersion": "1",
    "Signature": (
        "EXAMPLEw6JRNwm1LFQL4ICB0bnXrdB8ClRMTQFGBqwLpGbM78tJ4etTwC5zU7O3tS6tGpey3ejedNdOJ"
        "+1fkIp9F2/LmNVKb5aFlYq+9rk9ZiPph5YlLmWsDcyC5T+Sy9/umic5S0UQc2PEtgdpVBahwNOdMW4JP"
        "wk0kAJJztnc="
    ),
    "SigningCertURL": SNS_CERT_URL,
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
    "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96",
}

_SNS_TOKEN = (
    "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e2"
    "85d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e0"
    "5798d2d2785c03b0879594eeac82c01f235d0e717736"
)

# "HTTP/HTTPS subscription confirmation JSON format"
SNS_SUBSCRIPTION_CONFIRMATION_EXAMPLE: JSON = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": _SNS_TOKEN,
    "TopicArn": SNS_TOPIC_ARN,
    "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:"
    "MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    f"{SNS_TOPIC_ARN}&Token={_SNS_TOKEN}",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
    "Signature": (
        "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N"
        "858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9"
        "b5+gLPoBc1Q="
    ),
    "SigningCertURL": SNS_CERT_URL,
}

# "HTTP/HTTPS unsubscribe confirmation JSON format"
SNS_UNSUBSCRIBE_CONFIRMATION_EXAMPLE: JSON = {
    "Type": "UnsubscribeConfirmation",
    "MessageId": "47138184-6831-46b8-8f7c-afc488602d7d",
    "Token": _SNS_TOKEN,
    "TopicArn": SNS_TOPIC_ARN,
    "Message": "You have chosen to deactivate subscription arn:aws:sns:us-west-2:123456789012:"
    "MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55.\nTo cancel this operation and restore the "
    "subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    f"{SNS_TOPIC_ARN}&Token={_SNS_TOKEN}",
    "Timestamp": "2012-04-26T20:06:41.581Z",
    "SignatureVersion": "1",
    "Signature": (
        "EXAMPLEHXgJmXqnqsHTlqOCk7TIZsnk8zpJJoQbr8leD+8kAHcke3ClC4VPOvdpZo9s/vR9GOznKab6s"
        "jGxE8uwqDI9HwpDm8lGxSlFGuwCruWeecnt7MdJCNh0XK4XQCbtGoXB762ePJfaSWi9tYwzW65zAFU04"
        "WkNBkNsIf60="
    ),
    "SigningCertURL": SNS_CERT_URL,
}

# "Verifying the signatures of Amazon SNS messages": the documented strings to sign, and
# the values they come from.
SNS_STRING_TO_SIGN_NOTIFICATION = (
    "Message\nMy Test Message\n"
    "MessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
    "Subject\nMy subject\n"
    "Timestamp\n2012-06-05T04:37:04.321Z\n"
    "TopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
    "Type\nNotification\n"
)
_DOC_TOKEN = (
    "2336412f37fb687f5d51e6e241d09c8058323f60b964268bfe08ce35640228c208a66d3621bd9f7b012918cfdcfe"
    "65e153df551f76df58ed147f1245e330ce77ceff06dedab9f051f7028657e6c42750bf64bc9ef711d494e9f7637b"
    "86e690779eb5568f72466806b246bd244fa9392b1bc01eeb1c5e420847a745b7aa4b0085"
)
_DOC_SUBSCRIBE_URL = (
    "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
    f"us-west-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P&Token={_DOC_TOKEN}"
)
SNS_STRING_TO_SIGN_SUBSCRIPTION = (
    "Message\nMy Test Message\n"
    "MessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
    f"SubscribeURL\n{_DOC_SUBSCRIBE_URL}\n"
    "Timestamp\n2012-06-03T19:25:13.719Z\n"
    f"Token\n{_DOC_TOKEN}\n"
    "TopicArn\narn:aws:sns:us-west-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P\n"
    "Type\nSubscriptionConfirmation\n"
)
SNS_STRING_TO_SIGN_SOURCES: dict[str, JSON] = {
    "Notification": {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Subject": "My subject",
        "Message": "My Test Message",
        "Timestamp": "2012-06-05T04:37:04.321Z",
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": SNS_CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    },
    "SubscriptionConfirmation": {
        "Type": "SubscriptionConfirmation",
        "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
        "Token": _DOC_TOKEN,
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
        "Message": "My Test Message",
        "SubscribeURL": _DOC_SUBSCRIBE_URL,
        "Timestamp": "2012-06-03T19:25:13.719Z",
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": SNS_CERT_URL,
    },
}


def sns_notification(
    ses_notification: JSON,
    *,
    message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    timestamp: str = "2016-01-27T14:59:38.500Z",
    topic_arn: str = SNS_TOPIC_ARN,
    cert_url: str = SNS_CERT_URL,
) -> JSON:
    """An SES notification as SNS delivers it: JSON text in the `Message` of a
    `Notification` (unsigned: `Signature` is empty until a signer fills it)."""
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Message": json.dumps(ses_notification),
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": cert_url,
        "UnsubscribeURL": f"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:x",
    }


# --- SendGrid: "Event Webhook Reference" ------------------------------------------------

# "Here is an event response that includes an example of each type of event" (the older
# reference page, every id left as the placeholder "sg_event_id").
_SG = {
    "email": "example@test.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "category": "cat facts",
    "sg_event_id": "sg_event_id",
    "sg_message_id": "sg_message_id",
}
_UA = "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)"
SENDGRID_EACH_EVENT_TYPE: list[JSON] = [
    {**_SG, "event": "processed"},
    {**_SG, "event": "deferred", "response": "400 try again later", "attempt": "5"},
    {**_SG, "event": "delivered", "response": "250 OK"},
    {**_SG, "event": "open", "useragent": _UA, "ip": "255.255.255.255"},
    {
        **_SG,
        "event": "click",
        "useragent": _UA,
        "ip": "255.255.255.255",
        "url": "http://www.sendgrid.com/",
    },
    {**_SG, "event": "bounce", "reason": "500 unknown recipient", "status": "5.0.0"},
    {**_SG, "event": "dropped", "reason": "Bounced Address", "status": "5.0.0"},
    {**_SG, "event": "spamreport"},
    {**_SG, "event": "unsubscribe"},
    {
        **_SG,
        "event": "group_unsubscribe",
        "useragent": _UA,
        "ip": "255.255.255.255",
        "url": "http://www.sendgrid.com/",
        "asm_group_id": 10,
    },
    {
        **_SG,
        "event": "group_resubscribe",
        "useragent": _UA,
        "ip": "000.000.000.000",
        "url": "http://www.sendgrid.com/",
        "asm_group_id": 10,
    },
]

_SG_MESSAGE_ID = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"

# "Bounce type of Bounce event" (a hard bounce)
SENDGRID_BOUNCE: JSON = {
    "email": "alex@example.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "bounce_classification": "Invalid Address",
    "event": "bounce",
    "category": "cat facts",
    "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
    "sg_message_id": _SG_MESSAGE_ID,
    "reason": "500 unknown recipient",
    "status": "5.0.0",
    "type": "bounce",
}
# "Blocked type of Bounce event" (a soft bounce; the page reuses the bounce's id)
SENDGRID_BLOCKED: JSON = {**SENDGRID_BOUNCE, "type": "blocked"}
# "Deferred events"
SENDGRID_DEFERRED: JSON = {
    "email": "alex@example.com",
    "domain": "example.com",
    "from": "test@example.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "deferred",
    "category": "cat facts",
    "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==",
    "sg_message_id": _SG_MESSAGE_ID,
    "response": "400 try again later",
    "attempt": "5",
}
# "Dropped events"
SENDGRID_DROPPED: JSON = {
    "email": "alex@example.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "dropped",
    "category": "cat facts",
    "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
    "sg_message_id": _SG_MESSAGE_ID,
    "reason": "Bounced Address",
    "status": "5.0.0",
}
# "Spam report events"
SENDGRID_SPAMREPORT: JSON = {
    "email": "alex@example.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "spamreport",
    "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
    "sg_message_id": _SG_MESSAGE_ID,
}
# "Account status change events" (no address at all)
SENDGRID_ACCOUNT_STATUS_CHANGE: JSON = {
    "event": "account_status_change",
    "sg_event_id": "MjEzNTg5OTcyOC10ZXJtaW5hdGUtMTcwNzg1MTUzMQ",
    "timestamp": 1709142428,
    "type": "compliance_suspend",
}

# SendGrid's own libraries test their signature check with this delivery (sendgrid-python,
# test/unit/test_eventwebhook.py): a key, a signature and the exact bytes it covers.
SENDGRID_KNOWN_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe6"
    "2gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
SENDGRID_KNOWN_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15Tlu"
    "LtEZtM="
)
SENDGRID_KNOWN_TIMESTAMP = "1600112502"
SENDGRID_KNOWN_BODY = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-"
                "5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()

# --- Postmark: "Bounce webhook" and "Spam complaint webhook" ----------------------------

# "Bounce webhook data": example JSON webhook data
POSTMARK_BOUNCE: JSON = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
    "not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}

# "Spam complaint webhook data": example JSON webhook data
POSTMARK_SPAM_COMPLAINT: JSON = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}

# Postmark's webhooks overview page: the bounce example of the older hook, without a
# RecordType and with a local offset in BouncedAt.
POSTMARK_BOUNCE_WITHOUT_RECORD_TYPE: JSON = {
    "ID": 42,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
    "not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "BouncedAt": "2014-08-01T13:28:10.2735393-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Metadata": {"user_id": 43},
}


def postmark_bounce_of_type(bounce_type: str, type_code: int) -> JSON:
    """The bounce example with another of the documented bounce types (API "Bounce types")."""
    return {**POSTMARK_BOUNCE, "Type": bounce_type, "TypeCode": type_code}


# "Delivery webhook": a record type that carries no feedback
POSTMARK_DELIVERY: JSON = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Recipient": "john@example.com",
    "Tag": "welcome-email",
    "DeliveredAt": "2021-02-21T16:34:52Z",
    "Details": "Test delivery webhook details",
    "Metadata": {"example": "value", "example_2": "value"},
}

# --- Mailgun: sample webhook payloads ---------------------------------------------------

# The `signature` object of the "Securing webhooks" example (signed with a key we do not
# have: tests that verify re-sign with their own).
MAILGUN_DOC_SIGNATURE: JSON = {
    "timestamp": "1529006854",
    "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    "signature": "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55",
}

# The permanent_fail sample ("Test permanent_fail webhook"): a send to an address Mailgun
# already knows bounces
MAILGUN_PERMANENT_FAIL: JSON = {
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": 1521233195.375624,
    "log-level": "error",
    "event": "failed",
    "severity": "permanent",
    "reason": "suppress-bounce",
    "delivery-status": {
        "attempt-no": 1,
        "message": "",
        "code": 605,
        "enhanced-code": "",
        "description": "Not delivering to previously bounced address",
        "session-seconds": 0,
    },
    "flags": {
        "is-routed": False,
        "is-authenticated": True,
        "is-system-test": False,
        "is-test-mode": False,
    },
    "envelope": {
        "sender": "bob@sandbox137ba8eb5c17406295e77c3c72985e71.mailgun.org",
        "transport": "smtp",
        "targets": "alice@example.com",
    },
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": "20130503192659.13651.20287@sandbox137ba8eb5c17406295e77c3c72985e71."
            "mailgun.org",
            "from": "Bob <bob@sandbox137ba8eb5c17406295e77c3c72985e71.mailgun.org>",
            "subject": "Test permanent_fail webhook",
        },
        "attachments": [],
        "size": 111,
    },
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "storage": {
        "url": "https://se.api.mailgun.net/v3/domains/sandbox137ba8eb5c17406295e77c3c72985e71."
        "mailgun.org/messages/message_key",
        "key": "message_key",
    },
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
}

# The temporary_fail sample: the recipient's mailbox is over quota (message trimmed)
MAILGUN_TEMPORARY_FAIL: JSON = {
    "id": "Fs7-5t81S2ispqxqDw2U4Q",
    "timestamp": 1521472262.908181,
    "log-level": "warn",
    "event": "failed",
    "reason": "generic",
    "severity": "temporary",
    "delivery-status": {
        "attempt-no": 1,
        "code": 452,
        "enhanced-code": "4.2.2",
        "message": "4.2.2 The email account that you tried to reach is over quota.",
        "retry-seconds": 600,
    },
    "recipient": "alice@example.com",
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": "20130503192659.13651.20287@sample.mailgun.com",
            "from": "Bob <bob@sample.mailgun.com>",
            "subject": "Test temporary_fail webhook",
        }
    },
}

# The complained sample ("Test complained webhook")
MAILGUN_COMPLAINED: JSON = {
    "id": "-Agny091SquKnsrW2NEKUA",
    "timestamp": 1521233123.501324,
    "log-level": "warn",
    "event": "complained",
    "envelope": {"sending-ip": "173.193.210.33"},
    "flags": {"is-test-mode": False},
    "message": {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": "20110215055645.25246.63817@sandbox80e93ea8b9e2434f982ab4f01859633c."
            "mailgun.org",
            "from": "Bob <bob@sandbox80e93ea8b9e2434f982ab4f01859633c.mailgun.org>",
            "subject": "Test complained webhook",
        },
        "attachments": [],
        "size": 111,
    },
    "recipient": "alice@example.com",
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
}

# "Webhook Payloads": Accepted Event (trimmed; the page's excerpt gives no timestamp, so
# this one is chosen)
MAILGUN_ACCEPTED: JSON = {
    "account": {"id": "1234567890303a4bd1f33898"},
    "domain": {"name": "sample.mailgun.com"},
    "envelope": {
        "sender": "sender@sample.mailgun.com",
        "targets": "recipient@sample.mailgun.com",
        "transport": "smtp",
    },
    "event": "accepted",
    "flags": {"is-authenticated": True, "is-test-mode": False},
    "id": "CCXMjJ7nQi2N3BPigGOdgQ",
    "log-level": "info",
    "method": "HTTP",
    "recipient": "recipient@sample.mailgun.com",
    "timestamp": 1770146798.123456,
}


def mailgun_body(event_data: JSON, signature: JSON | None = None) -> JSON:
    """A Mailgun delivery: the signature object beside the event."""
    return {"signature": dict(signature or MAILGUN_DOC_SIGNATURE), "event-data": event_data}
