from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from cloud.sites.models import CommandState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('wayside', '0002_plate_prefix_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Command',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('tenant', fields.ForeignKeyField('wayside.Tenant', source_field='tenant_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('site', fields.ForeignKeyField('wayside.Site', source_field='site_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('lane', fields.CharField(default='', max_length=48)),
                ('kind', fields.CharField(max_length=32)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('issued_by', fields.CharField(default='', max_length=64)),
                ('issued_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('state', fields.CharEnumField(default=CommandState.pending, description='pending: pending\ndone: done\nfailed: failed\nexpired: expired', enum_type=CommandState, max_length=8)),
                ('detail', fields.CharField(default='', max_length=255)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_command', 'app': 'wayside', 'pk_attr': 'id', 'table_description': "An admin's device action sent down to the edge serving the site, run there at most once."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SeenSignature',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sync_seen_signature', 'app': 'wayside', 'pk_attr': 'id', 'table_description': 'Signatures accepted in the last minutes: the same one again is a replay.'},
            bases=['Model'],
        ),
        # A shared key gives way to an Ed25519 key pair: the old hash means nothing as a key.
        ops.RemoveField(model_name='Edge', name='key_hash'),
        ops.AddField(
            model_name='Edge',
            name='public_key',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='Edge',
            name='backlog',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Edge',
            name='clock_skew_ms',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Edge',
            name='enroll_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Edge',
            name='enroll_token_hash',
            field=fields.CharField(default='', db_index=True, max_length=64),
        ),
        ops.AddField(
            model_name='Edge',
            name='enrolled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Edge',
            name='revoked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
