-- Batch envelopes (already judged as such) into one line per member. The envelope's own
-- fields other than the batch and the event fields (its context, sentAt, writeKey, ...) apply
-- to each member as defaults: a member's own values win, key by key.
with

envelopes as (
    select
        file_seq,
        source_file,
        line_number,
        envelope_line as line
    from judged
    where is_envelope
),

split as (
    select
        file_seq,
        source_file,
        line_number,
        json_extract(line, '$.batch[*]') as members,
        json_merge_patch(line, {{ envelope_field_nulls }}) as defaults,
        coalesce(json_extract(line, '$.sentAt'), json_extract(line, '$.sent_at')) as sent_at
    from envelopes
),

members as (
    select
        file_seq,
        source_file,
        line_number,
        defaults,
        sent_at,
        unnest(members) as member,
        unnest(range(len(members))) as batch_index
    from split
),

final as (
    select
        file_seq,
        source_file,
        line_number,
        cast(batch_index as integer) as batch_index,
        case
            when json_type(member) <> 'OBJECT' then member
            else json_merge_patch(
                case
                    when sent_at is not null
                        and json_extract(member, '$.sentAt') is null
                        and json_extract(member, '$.sent_at') is null
                        then json_merge_patch(defaults, json_object('sentAt', sent_at))
                    else defaults
                end,
                member
            )
        end::varchar as line,
        -- not counted: the depth search runs on every member
        null::integer as openings
    from members
)

select * from final
