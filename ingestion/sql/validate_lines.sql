-- The event contract (docs/event-contract.md) as one query over a column of lines.
--
-- Each line is parsed once into its fields as raw JSON (f), each read as text (s_) where a
-- rule needs it; every rule is then a column expression, so the per-line cost stays inside
-- DuckDB. `reason` is null for a valid event, else the first rule the line breaks.
-- Placeholders in double braces are filled by ingestion/validate.py; reason codes come from
-- ingestion.contract.Reason.
with

src as (
    select
        file_seq,
        source_file,
        line_number,
        batch_index,
        line,
        openings,
        strlen(line) - (case when suffix(line, chr(10)) then 1 else 0 end) as raw_bytes,
        json_valid(line) and not ({{ has_non_json_number }}) as is_json
    from lines
),

kinds as (
    select
        *,
        -- a valid line starting with a brace is an object: no second parse for most lines
        case when is_json then
            case when prefix(line, '{') then 'OBJECT' else json_type(line) end
        end as json_kind
    from src
),

parsed as (
    select
        *,
        case when json_kind = 'OBJECT' and raw_bytes <= {{ max_event_bytes }}
            then json_transform(line, {{ raw_json_spec }}) end as f
    from kinds
),

picked as (
    select
        file_seq,
        source_file,
        line_number,
        batch_index,
        line,
        openings,
        raw_bytes,
        is_json,
        json_kind,
        {{ field_picks }},
        {{ mapped_key_count }} as mapped_keys
    from parsed
),

typed as (
    select
        *,
        {{ field_kinds }},
        lower(trim(s_type)) as v_type,
        {{ identity_fields }},
        nullif(trim(s_event), '') as v_event,
        nullif(trim(s_name), '') as v_name,
        coalesce(nullif(trim(s_namespace), ''), {{ default_namespace }}) as v_namespace,
        {{ time_fields }}
    from picked
),

-- An envelope is recognised at any size: the event size limit applies to each member.
enveloped as (
    select
        *,
        coalesce(json_kind = 'OBJECT' and case
            when raw_bytes <= {{ max_event_bytes }} then j_type is null and prefix(j_batch, '[')
            else json_type(line, '$.batch') = 'ARRAY' and json_extract(line, '$.type') is null
        end, false) as is_envelope_shape
    from typed
),

-- Segment's times: the device's clock is originalTimestamp (else timestamp, which Segment's
-- archives already correct); it is corrected once by (receivedAt - sentAt).
timed as (
    select
        *,
        coalesce(t_original_timestamp, t_timestamp) as t_device,
        case
            when coalesce(t_original_timestamp, t_timestamp) is null then t_received_at
            when t_sent_at is not null and t_received_at is not null
                then coalesce(t_original_timestamp, t_timestamp) + (t_received_at - t_sent_at)
            else coalesce(t_original_timestamp, t_timestamp)
        end as t_event
    from enveloped
),

checked as (
    select
        *,
        case {{ field_type_errors }} end as field_error,
        -- nesting deeper than the limit: one pass of the regular expression, only over the
        -- lines with enough opening brackets for it (counted by the reader; null when not);
        -- a match is confirmed without the line's strings, whose brackets are not nesting
        case when is_json and coalesce(openings > {{ max_json_depth }}, true) then
            case when regexp_matches(line, {{ too_deep_pattern }})
                then regexp_matches({{ without_strings }}, {{ too_deep_pattern }})
                else false end
        else false end as is_too_deep,
        case {{ time_errors }}
            when t_event is null then 'no timestamp, originalTimestamp or receivedAt'
        end as time_error
    from timed
),

judged as (
    select
        *,
        is_envelope_shape and not $in_envelope as is_envelope,
        case
            when is_envelope_shape and not $in_envelope then null
            when not is_json then {{ reason_invalid_json }}
            when json_kind <> 'OBJECT' then {{ reason_not_an_object }}
            when is_envelope_shape then {{ reason_invalid_field_type }}
            when raw_bytes > {{ max_event_bytes }} then {{ reason_event_too_large }}
            when is_too_deep then {{ reason_invalid_field_type }}
            when field_error is not null then {{ reason_invalid_field_type }}
            when v_type is null or v_type not in ({{ event_types }}) then {{ reason_unknown_type }}
            when v_user_id is null and v_anonymous_id is null then {{ reason_missing_identity }}
            when v_type = 'group' and v_group_id is null then {{ reason_missing_identity }}
            when v_type = 'track' and v_event is null then {{ reason_missing_event_name }}
            when v_type = 'alias' and v_previous_id is null then {{ reason_missing_previous_id }}
            when time_error is not null then {{ reason_invalid_timestamp }}
            when t_event > coalesce(t_received_at, $ingested_at)
                + interval {{ max_future_skew_hours }} hour then {{ reason_timestamp_out_of_range }}
            when t_event < timestamp {{ min_event_timestamp }}
                then {{ reason_timestamp_out_of_range }}
        end as reason
    from checked
),

final as (
    select
        file_seq,
        line_number,
        batch_index,
        reason,
        is_envelope,
        reason is null and not is_envelope as is_event,
        case
            when reason = {{ reason_invalid_json }} then
                case when json_valid(line) then 'NaN and Infinity are not JSON numbers'
                    else 'not valid JSON' end
            when reason = {{ reason_not_an_object }}
                then 'a JSON ' || lower(json_kind) || ', not an object'
            when reason = {{ reason_invalid_field_type }} and is_envelope_shape
                then 'a batch envelope inside a batch envelope'
            when reason = {{ reason_event_too_large }} then 'event is ' || raw_bytes
                || ' bytes serialised, over the ' || {{ max_event_bytes }} || '-byte limit'
            when reason = {{ reason_invalid_field_type }} and is_too_deep
                then 'the event is nested more than ' || {{ max_json_depth }} || ' levels deep'
            when reason = {{ reason_invalid_field_type }} then field_error
            when reason = {{ reason_unknown_type }} then
                case when v_type is null then 'no type field'
                    else 'type ' || v_type || ' is not one of ' || {{ event_types_text }} end
            when reason = {{ reason_missing_identity }} then
                case when v_type = 'group' and (v_user_id is not null or v_anonymous_id is not null)
                    then 'group call has no groupId'
                    else 'neither userId nor anonymousId holds a real identifier' end
            when reason = {{ reason_missing_event_name }} then 'track call has no event name'
            when reason = {{ reason_missing_previous_id }} then 'alias call has no previousId'
            when reason = {{ reason_invalid_timestamp }} then time_error
            when reason = {{ reason_timestamp_out_of_range }} then 'event time '
                || strftime(t_event, '%Y-%m-%dT%H:%M:%SZ')
                || case when t_event < timestamp {{ min_event_timestamp }}
                    then ' is before ' || {{ min_event_timestamp }}
                    else ' is more than ' || {{ max_future_skew_hours }}
                        || ' hours after it was received' end
        end as error,
        case when reason is not null
            then left(rtrim(line, chr(13) || chr(10)), {{ raw_line_limit }}) end as raw_line,
        raw_bytes,
        case when is_envelope then line end as envelope_line,
        -- No id of its own: one derived from the content minus the transport times that a
        -- redelivery changes, so that every copy of it gets the same id.
        case
            when v_event_id is not null then v_event_id
            when json_kind = 'OBJECT' and raw_bytes <= {{ max_event_bytes }} then 'paw-' || md5(
                json_merge_patch(rtrim(line, chr(13) || chr(10)), {{ transport_nulls }})
            )
        end as event_id,
        v_type as event_type,
        case v_type
            when 'track' then v_event
            when 'page' then 'page_viewed'
            when 'screen' then 'screen_viewed'
            else v_type
        end as event_name,
        v_user_id as user_id,
        v_anonymous_id as anonymous_id,
        v_previous_id as previous_id,
        v_group_id as group_id,
        v_namespace as namespace,
        t_event as event_timestamp,
        t_device as original_timestamp,
        t_sent_at as sent_at,
        t_received_at as received_at,
        $ingested_at as ingested_at,
        case
            when v_type in ('page', 'screen') and v_name is not null
                then json_merge_patch(
                    json_object('name', v_name), coalesce(j_properties, '{}')
                )::varchar
            else j_properties
        end as properties,
        -- context.traits overlaid by the top-level traits (top level wins per key)
        case
            when k_context = 'object' and json_type(j_context, {{ context_traits_path }}) = 'OBJECT'
                then json_merge_patch(
                    json_extract(j_context, {{ context_traits_path }}), coalesce(j_traits, '{}')
                )::varchar
            else j_traits
        end as traits,
        j_context as context,
        -- every top-level field the contract does not map, so that nothing is dropped; the
        -- costly patch runs only where the line has more keys than mapped fields (a key with
        -- a null value counts as one more: the patch then finds nothing)
        case when json_kind = 'OBJECT' and raw_bytes <= {{ max_event_bytes }} then
            case when len(json_keys(line)) > mapped_keys then nullif(
                json_merge_patch(rtrim(line, chr(13) || chr(10)), {{ mapped_field_nulls }})::varchar,
                '{}'
            ) end
        end as extra,
        source_file,
        line_number as source_line
    from judged
)

select * from final
