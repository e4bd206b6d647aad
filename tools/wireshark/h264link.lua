-- Wireshark dissector for the h264link framing protocol (docs/PROTOCOL.md,
-- common/protocol.h), versions 2 and 3.
--   wireshark -X lua_script:tools/wireshark/h264link.lua capture.pcap
--   tshark -X lua_script:tools/wireshark/h264link.lua -r capture.pcap -Y h264link
-- Registered on TCP port 8264 (preference "h264link.port") and as a TCP
-- heuristic that recognises the magic "H2LK", for sessions on other ports.
-- A session with an access key is TLS from its first byte: it shows as TLS,
-- and nothing of it reaches this dissector (docs/WIRESHARK.md).

local h264link = Proto("h264link", "h264link framing protocol")

local HEADER_SIZE = 24
local MAGIC = 0x48324C4B -- "H2LK"
local MAX_PAYLOAD = 1048576 -- kMaxPayloadSize: a larger length is a protocol error
local MIN_VERSION, MAX_VERSION = 2, 3 -- what the apps speak; HELLO and ERROR: any version

local T = {
    HELLO = 0x01, STREAM_INFO = 0x02, MEDIA = 0x03, END_OF_STREAM = 0x04, PING = 0x05,
    PONG = 0x06, ERROR = 0x07, AUTH_CHALLENGE = 0x08, AUTH_RESPONSE = 0x09,
    ACCEPTED = 0x0A, RECEIVED = 0x0B, AUDIO = 0x0C,
}
local type_names = {}
for name, code in pairs(T) do type_names[code] = name end

local error_names = {
    [1] = "protocol (undecodable bytes)", [2] = "unexpected message", [3] = "no common version",
    [4] = "busy", [5] = "sender's source failed", [6] = "access key required",
    [7] = "wrong access key (v1)", [8] = "handshake timeout", [9] = "receiver failed",
    [10] = "receiver shutting down", [11] = "sender full (--max-receivers)", [12] = "dropped by the sender",
}
local codec_names = {
    [0x48323634] = "H264 (Annex B)", [0] = "none", [0x41414320] = "AAC (ADTS)", [0x4D503320] = "MP3",
}
local nal_names = {
    [1] = "non-IDR slice", [2] = "slice A", [3] = "slice B", [4] = "slice C", [5] = "IDR slice",
    [6] = "SEI", [7] = "SPS", [8] = "PPS", [9] = "AUD", [10] = "end of sequence",
    [11] = "end of stream", [12] = "filler", [13] = "SPS extension", [14] = "prefix",
    [15] = "subset SPS", [19] = "auxiliary slice", [20] = "slice extension",
}
local nal_short = { [1] = "non-IDR", [5] = "IDR", [6] = "SEI", [7] = "SPS", [8] = "PPS", [9] = "AUD" }

local f = {
    magic = ProtoField.uint32("h264link.magic", "Magic", base.HEX),
    version = ProtoField.uint8("h264link.version", "Version", base.DEC),
    type = ProtoField.uint8("h264link.type", "Type", base.HEX, type_names),
    flags = ProtoField.uint16("h264link.flags", "Flags", base.HEX),
    keyframe = ProtoField.bool("h264link.flags.keyframe", "KEYFRAME", 16, nil, 0x0001),
    param_sets = ProtoField.bool("h264link.flags.parameter_sets", "PARAMETER_SETS", 16, nil, 0x0002),
    au_start = ProtoField.bool("h264link.flags.au_start", "AU_START", 16, nil, 0x0004),
    au_end = ProtoField.bool("h264link.flags.au_end", "AU_END", 16, nil, 0x0008),
    decode_only = ProtoField.bool("h264link.flags.decode_only", "DECODE_ONLY (decode, never show)", 16, nil, 0x0010),
    seq = ProtoField.uint32("h264link.seq", "Sequence", base.DEC),
    timestamp = ProtoField.int64("h264link.timestamp", "Timestamp (sender's clock, µs)", base.DEC),
    length = ProtoField.uint32("h264link.length", "Payload length", base.DEC),

    string_length = ProtoField.uint16("h264link.string_length", "String length", base.DEC),
    trailing = ProtoField.bytes("h264link.trailing", "Fields unknown to this dissector"),

    hello_min = ProtoField.uint8("h264link.hello.min_version", "Lowest version", base.DEC),
    hello_max = ProtoField.uint8("h264link.hello.max_version", "Highest version", base.DEC),
    caps = ProtoField.uint32("h264link.hello.capabilities", "Capabilities", base.HEX),
    cap_media = ProtoField.bool("h264link.hello.cap.media", "MEDIA", 32, nil, 0x1),
    cap_ping = ProtoField.bool("h264link.hello.cap.ping", "answers PING", 32, nil, 0x2),
    cap_auth = ProtoField.bool("h264link.hello.cap.auth", "AUTH challenge (v1)", 32, nil, 0x4),
    software = ProtoField.string("h264link.hello.software", "Software", base.UNICODE),

    codec = ProtoField.uint32("h264link.info.codec", "Video codec", base.HEX, codec_names),
    width = ProtoField.uint16("h264link.info.width", "Width", base.DEC),
    height = ProtoField.uint16("h264link.info.height", "Height", base.DEC),
    fps_num = ProtoField.uint32("h264link.info.fps_num", "Frame rate numerator", base.DEC),
    fps_den = ProtoField.uint32("h264link.info.fps_den", "Frame rate denominator", base.DEC),
    tb_num = ProtoField.uint32("h264link.info.timebase_num", "Time base numerator", base.DEC),
    tb_den = ProtoField.uint32("h264link.info.timebase_den", "Time base denominator", base.DEC),
    duration = ProtoField.int64("h264link.info.duration_us", "Duration (µs, -1: unknown)", base.DEC),
    source = ProtoField.string("h264link.info.source_name", "Source name", base.UNICODE),
    audio_codec = ProtoField.uint32("h264link.info.audio_codec", "Audio codec", base.HEX, codec_names),
    audio_rate = ProtoField.uint32("h264link.info.audio_sample_rate", "Audio sample rate", base.DEC),
    audio_channels = ProtoField.uint8("h264link.info.audio_channels", "Audio channels", base.DEC),
    audio_bitrate = ProtoField.uint32("h264link.info.audio_bitrate", "Audio bit rate (0: unknown)", base.DEC),
    audio_desc = ProtoField.string("h264link.info.audio_description", "Audio description", base.UNICODE),
    matrix = ProtoField.bytes("h264link.info.display_matrix", "Display matrix"),
    matrix_value = ProtoField.int32("h264link.info.display_matrix.value", "Value", base.DEC),
    rotation = ProtoField.double("h264link.info.rotation", "Rotation (degrees, counter-clockwise)"),
    hflip = ProtoField.bool("h264link.info.mirrored", "Mirrored"),
    reorder_depth = ProtoField.uint8("h264link.info.video_reorder_depth", "Video reorder depth (0: as the SPS says)",
                                     base.DEC),
    video_desc = ProtoField.string("h264link.info.video_description", "Video description", base.UNICODE),
    stream_flags = ProtoField.uint8("h264link.info.stream_flags", "Stream flags", base.HEX),
    flag_live = ProtoField.bool("h264link.info.stream_flags.live", "LIVE (a receiver behind may skip to a keyframe)",
                                8, nil, 0x01),

    pts = ProtoField.int64("h264link.media.pts_us", "PTS (µs)", base.DEC),
    media_data = ProtoField.bytes("h264link.media.data", "Annex B bytes"),
    continuation = ProtoField.bytes("h264link.media.continuation", "Continuation of the previous message's NAL unit"),
    nal = ProtoField.bytes("h264link.nal", "NAL unit"),
    nal_start_code = ProtoField.uint8("h264link.nal.start_code_length", "Start code length", base.DEC),
    nal_forbidden = ProtoField.uint8("h264link.nal.forbidden_zero_bit", "forbidden_zero_bit", base.DEC, nil, 0x80),
    nal_ref_idc = ProtoField.uint8("h264link.nal.ref_idc", "nal_ref_idc", base.DEC, nil, 0x60),
    nal_type = ProtoField.uint8("h264link.nal.type", "nal_unit_type", base.DEC, nal_names, 0x1F),
    nal_size = ProtoField.uint32("h264link.nal.size", "Size in this message (start code excluded)", base.DEC),

    audio_pts = ProtoField.int64("h264link.audio.pts_us", "PTS (µs)", base.DEC),
    skip_start = ProtoField.uint32("h264link.audio.skip_start", "Samples to skip at the start", base.DEC),
    discard_end = ProtoField.uint32("h264link.audio.discard_end", "Samples to discard at the end", base.DEC),
    audio_data = ProtoField.bytes("h264link.audio.data", "Audio packet (ADTS or MP3 frame)"),

    eos_aus = ProtoField.uint64("h264link.eos.access_units", "Access units sent", base.DEC),
    eos_bytes = ProtoField.uint64("h264link.eos.media_bytes", "Media bytes sent", base.DEC),
    eos_audio = ProtoField.uint64("h264link.eos.audio_packets", "Audio packets sent (v3)", base.DEC),

    rcv_aus = ProtoField.uint64("h264link.received.access_units", "Access units received", base.DEC),
    rcv_frames = ProtoField.uint64("h264link.received.frames_decoded", "Frames decoded", base.DEC),
    rcv_audio = ProtoField.uint64("h264link.received.audio_packets", "Audio packets received (v3)", base.DEC),
    rcv_audio_frames = ProtoField.uint64("h264link.received.audio_frames_decoded",
                                         "Audio frames decoded (v3)", base.DEC),
    rcv_skipped = ProtoField.uint64("h264link.received.frames_skipped", "Frames skipped to stay live", base.DEC),

    pong_seq = ProtoField.uint32("h264link.pong.ping_seq", "PING sequence (echoed)", base.DEC),
    pong_ts = ProtoField.int64("h264link.pong.ping_timestamp", "PING timestamp (echoed, µs)", base.DEC),
    pong_skipped = ProtoField.uint64("h264link.pong.frames_skipped", "Frames skipped by the sender", base.DEC),

    error_code = ProtoField.uint16("h264link.error.code", "Error code", base.DEC, error_names),
    error_reason = ProtoField.string("h264link.error.reason", "Reason", base.UNICODE),

    auth_data = ProtoField.bytes("h264link.auth.data", "v1 access-key challenge bytes"),
}
local field_list = {}
for _, field in pairs(f) do field_list[#field_list + 1] = field end
h264link.fields = field_list

local e = {
    bad_magic = ProtoExpert.new("h264link.bad_magic", "Not h264link: bad magic (the stream cannot be followed)",
                                expert.group.MALFORMED, expert.severity.ERROR),
    too_large = ProtoExpert.new("h264link.too_large", "Payload length above the protocol maximum of 1 MiB",
                                expert.group.MALFORMED, expert.severity.ERROR),
    unknown_type = ProtoExpert.new("h264link.unknown_type", "Unknown message type",
                                   expert.group.MALFORMED, expert.severity.ERROR),
    short = ProtoExpert.new("h264link.short_payload", "Payload too short for its message type",
                            expert.group.MALFORMED, expert.severity.ERROR),
    version = ProtoExpert.new("h264link.bad_version", "Header version outside 2..3 on a message other than HELLO/ERROR",
                              expert.group.PROTOCOL, expert.severity.WARN),
    not_empty = ProtoExpert.new("h264link.not_empty", "Payload on a message that has none",
                                expert.group.PROTOCOL, expert.severity.WARN),
    trailing = ProtoExpert.new("h264link.trailing_fields", "Appended fields of a later revision",
                               expert.group.PROTOCOL, expert.severity.NOTE),
}
h264link.experts = { e.bad_magic, e.too_large, e.unknown_type, e.short, e.version, e.not_empty, e.trailing }

h264link.prefs.port = Pref.uint("TCP port", 8264, "The receiver's port (its --port)")

-- ---- Payload readers -------------------------------------------------------
-- Each takes the payload's TvbRange and a tree, returns a short summary for
-- the Info column, and raises "short" when the payload ends inside a field.

local Short = {}

local function need(range, offset, size)
    if offset + size > range:len() then error(Short) end
end

local function add_string(tree, range, offset, field)
    need(range, offset, 2)
    local size = range(offset, 2):uint()
    tree:add(f.string_length, range(offset, 2))
    need(range, offset + 2, size)
    local text = size > 0 and range(offset + 2, size):string(ENC_UTF_8) or ""
    if size > 0 then
        tree:add(field, range(offset + 2, size), text)
    else
        tree:add(field, range(offset, 2), ""):set_generated()
    end
    return offset + 2 + size, text
end

local function add_fixed(tree, range, offset, field, size)
    need(range, offset, size)
    tree:add(field, range(offset, size))
    return offset + size
end

local function pts_text(range)
    local value = range:int64()
    return value == Int64.min() and "unknown" or tostring(value)
end

local function trailing(tree, range, offset)
    if offset < range:len() then
        tree:add_proto_expert_info(e.trailing)
        tree:add(f.trailing, range(offset))
    end
end

-- The NAL units of an Annex B piece, found at the start codes 00 00 01 and
-- 00 00 00 01. A start code split between two MEDIA messages is not seen
-- (the bytes then count as part of the NAL unit before it).
local function add_nal_units(tree, range)
    local bytes = range:raw()
    local starts = {} -- { start code offset, header offset }
    local search = 1
    while true do
        local hit = string.find(bytes, "\0\0\1", search, true)
        if not hit then break end
        local code = hit - 1 -- 0-based offset of the 3-byte code
        if code > 0 and bytes:byte(hit - 1) == 0 then code = code - 1 end
        starts[#starts + 1] = { code, hit + 2 }
        search = hit + 3
    end
    if #starts == 0 then
        if range:len() > 0 then tree:add(f.continuation, range) end
        return ""
    end
    if starts[1][1] > 0 then tree:add(f.continuation, range(0, starts[1][1])) end
    local names = {}
    for i, s in ipairs(starts) do
        local stop = i < #starts and starts[i + 1][1] or range:len()
        local header = s[2]
        local size = stop - header
        local nal_tree = tree:add(f.nal, range(s[1], stop - s[1]))
        nal_tree:add(f.nal_start_code, range(s[1], header - s[1]), header - s[1]):set_generated()
        if size > 0 then
            local kind = bit.band(range(header, 1):uint(), 0x1F)
            nal_tree:add(f.nal_forbidden, range(header, 1))
            nal_tree:add(f.nal_ref_idc, range(header, 1))
            nal_tree:add(f.nal_type, range(header, 1))
            nal_tree:add(f.nal_size, range(header, size), size):set_generated()
            nal_tree:set_text(string.format("NAL unit: %s (type %d), %d bytes",
                                            nal_names[kind] or "reserved", kind, size))
            names[#names + 1] = nal_short[kind] or tostring(kind)
        else
            nal_tree:set_text("Start code at the end of the message")
        end
    end
    return table.concat(names, " ")
end

local readers = {}

readers[T.HELLO] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.hello_min, 1)
    o = add_fixed(tree, range, o, f.hello_max, 1)
    need(range, o, 4)
    local caps_tree = tree:add(f.caps, range(o, 4))
    caps_tree:add(f.cap_media, range(o, 4))
    caps_tree:add(f.cap_ping, range(o, 4))
    caps_tree:add(f.cap_auth, range(o, 4))
    local software
    o, software = add_string(tree, range, o + 4, f.software)
    trailing(tree, range, o)
    return string.format("v%d..%d %s", range(0, 1):uint(), range(1, 1):uint(), software)
end

-- FFmpeg's display matrix (9 x i32, 16.16 fixed point, the last column
-- 2.30): its rotation as av_display_rotation_get() computes it
-- (counter-clockwise degrees), and whether it mirrors.
local function add_matrix(tree, range, offset)
    need(range, offset, 36)
    local m = {}
    local matrix_tree = tree:add(f.matrix, range(offset, 36))
    for i = 0, 8 do
        m[i] = range(offset + 4 * i, 4):int()
        matrix_tree:add(f.matrix_value, range(offset + 4 * i, 4)):prepend_text(string.format("[%d][%d] ", math.floor(i / 3), i % 3))
    end
    local function fixed(v) return v / 65536.0 end
    local sx = math.sqrt(fixed(m[0]) ^ 2 + fixed(m[3]) ^ 2)
    local sy = math.sqrt(fixed(m[1]) ^ 2 + fixed(m[4]) ^ 2)
    local degrees = 0
    if sx ~= 0 and sy ~= 0 then
        degrees = -math.deg((math.atan2 or math.atan)(fixed(m[1]) / sy, fixed(m[0]) / sx))
        if degrees == 0 then degrees = 0 end -- no "-0"
    end
    local mirrored = fixed(m[0]) * fixed(m[4]) - fixed(m[1]) * fixed(m[3]) < 0
    local values = {}
    for i = 0, 8 do values[#values + 1] = tostring(m[i]) end
    matrix_tree:set_text(string.format("Display matrix: %s (rotation %g°%s)", table.concat(values, " "), degrees,
                                       mirrored and ", mirrored" or ""))
    tree:add(f.rotation, range(offset, 36), degrees):set_generated()
    tree:add(f.hflip, range(offset, 36), mirrored):set_generated()
    return offset + 36, degrees, mirrored
end

readers[T.STREAM_INFO] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.codec, 4)
    o = add_fixed(tree, range, o, f.width, 2)
    o = add_fixed(tree, range, o, f.height, 2)
    o = add_fixed(tree, range, o, f.fps_num, 4)
    o = add_fixed(tree, range, o, f.fps_den, 4)
    o = add_fixed(tree, range, o, f.tb_num, 4)
    o = add_fixed(tree, range, o, f.tb_den, 4)
    o = add_fixed(tree, range, o, f.duration, 8)
    o = add_string(tree, range, o, f.source)
    local summary = string.format("%dx%d %d/%d fps", range(4, 2):uint(), range(6, 2):uint(),
                                  range(8, 4):uint(), range(12, 4):uint())
    if o == range:len() then return summary .. ", no audio fields (v2)" end
    local audio = o
    o = add_fixed(tree, range, o, f.audio_codec, 4)
    o = add_fixed(tree, range, o, f.audio_rate, 4)
    o = add_fixed(tree, range, o, f.audio_channels, 1)
    o = add_fixed(tree, range, o, f.audio_bitrate, 4)
    o = add_string(tree, range, o, f.audio_desc)
    local codec = range(audio, 4):uint()
    if codec == 0 then
        summary = summary .. ", no audio"
    else
        summary = string.format("%s, audio %s %d Hz %d ch", summary, codec_names[codec] or "?",
                                range(audio + 4, 4):uint(), range(audio + 8, 1):uint())
    end
    -- The picture fields, appended later in v3 (absent: identity, 0, none).
    if o == range:len() then return summary end
    local degrees, mirrored, description
    o, degrees, mirrored = add_matrix(tree, range, o)
    local depth = range:len() > o and range(o, 1):uint() or 0
    o = add_fixed(tree, range, o, f.reorder_depth, 1)
    o, description = add_string(tree, range, o, f.video_desc)
    local live = false
    if range:len() > o then -- a sender from before stream_flags ends here
        local flags_tree = tree:add(f.stream_flags, range(o, 1))
        flags_tree:add(f.flag_live, range(o, 1))
        live = bit.band(range(o, 1):uint(), 0x01) ~= 0
        o = o + 1
    end
    trailing(tree, range, o)
    if degrees ~= 0 or mirrored then
        summary = summary .. string.format(", rotation %g°%s", degrees, mirrored and " mirrored" or "")
    end
    if depth > 0 then summary = summary .. ", reorder depth " .. depth end
    if description ~= "" then summary = summary .. ", video: " .. description end
    summary = summary .. (live and ", live" or ", every frame")
    return summary
end

readers[T.MEDIA] = function(range, tree)
    need(range, 0, 8)
    tree:add(f.pts, range(0, 8)):append_text(range(0, 8):int64() == Int64.min() and " (unknown)" or "")
    if range:len() == 8 then return "pts " .. pts_text(range(0, 8)) end
    local data_tree = tree:add(f.media_data, range(8))
    data_tree:set_text(string.format("Annex B bytes: %d", range:len() - 8))
    local nals = add_nal_units(data_tree, range(8))
    return "pts " .. pts_text(range(0, 8)) .. (nals ~= "" and " " .. nals or "")
end

readers[T.AUDIO] = function(range, tree)
    need(range, 0, 16)
    tree:add(f.audio_pts, range(0, 8))
    tree:add(f.skip_start, range(8, 4))
    tree:add(f.discard_end, range(12, 4))
    if range:len() > 16 then tree:add(f.audio_data, range(16)) end
    return string.format("pts %s, %d bytes", pts_text(range(0, 8)), range:len() - 16)
end

readers[T.END_OF_STREAM] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.eos_aus, 8)
    o = add_fixed(tree, range, o, f.eos_bytes, 8)
    local summary = string.format("%s access units, %s bytes", range(0, 8):uint64(), range(8, 8):uint64())
    if o < range:len() then
        o = add_fixed(tree, range, o, f.eos_audio, 8)
        summary = summary .. string.format(", %s audio packets", range(16, 8):uint64())
    end
    trailing(tree, range, o)
    return summary
end

readers[T.RECEIVED] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.rcv_aus, 8)
    o = add_fixed(tree, range, o, f.rcv_frames, 8)
    local summary = string.format("%s access units, %s decoded", range(0, 8):uint64(), range(8, 8):uint64())
    if o < range:len() then
        o = add_fixed(tree, range, o, f.rcv_audio, 8)
        o = add_fixed(tree, range, o, f.rcv_audio_frames, 8)
        summary = summary .. string.format(", %s audio packets, %s decoded", range(16, 8):uint64(),
                                           range(24, 8):uint64())
    end
    if o < range:len() then -- a receiver from before frames_skipped ends here
        local skipped = range(o, 8):uint64()
        o = add_fixed(tree, range, o, f.rcv_skipped, 8)
        if skipped > 0 then summary = summary .. string.format(", %s skipped to stay live", skipped) end
    end
    trailing(tree, range, o)
    return summary
end

readers[T.PONG] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.pong_seq, 4)
    o = add_fixed(tree, range, o, f.pong_ts, 8)
    if o < range:len() then o = add_fixed(tree, range, o, f.pong_skipped, 8) end
    trailing(tree, range, o)
    return "to PING " .. range(0, 4):uint()
end

readers[T.ERROR] = function(range, tree)
    local o = add_fixed(tree, range, 0, f.error_code, 2)
    local reason
    o, reason = add_string(tree, range, o, f.error_reason)
    trailing(tree, range, o)
    local code = range(0, 2):uint()
    return string.format("%d %s: %s", code, error_names[code] or "unknown", reason)
end

local function auth_reader(range, tree)
    tree:add(f.auth_data, range)
    return "v1 only"
end
readers[T.AUTH_CHALLENGE] = auth_reader
readers[T.AUTH_RESPONSE] = auth_reader

local function empty_reader(range, tree)
    tree:add_proto_expert_info(e.not_empty)
    return ""
end
readers[T.PING] = empty_reader
readers[T.ACCEPTED] = empty_reader

-- ---- One message -----------------------------------------------------------

local function flags_text(flags)
    local names = {}
    if bit.band(flags, 0x1) ~= 0 then names[#names + 1] = "KEY" end
    if bit.band(flags, 0x2) ~= 0 then names[#names + 1] = "PS" end
    if bit.band(flags, 0x4) ~= 0 then names[#names + 1] = "AU_START" end
    if bit.band(flags, 0x8) ~= 0 then names[#names + 1] = "AU_END" end
    if bit.band(flags, 0x10) ~= 0 then names[#names + 1] = "DECODE_ONLY" end
    return table.concat(names, "|")
end

-- The whole message's length from its header; tvb holds at least HEADER_SIZE
-- bytes from offset. Garbage and oversized lengths take the rest of the
-- segment: nothing after them can be framed.
local function message_length(tvb, pinfo, offset)
    if tvb(offset, 4):uint() ~= MAGIC then return tvb:len() - offset end
    local length = tvb(offset + 20, 4):uint()
    if length > MAX_PAYLOAD then return tvb:len() - offset end
    return HEADER_SIZE + length
end

local function append_info(pinfo, text)
    local info = tostring(pinfo.cols.info)
    if info == "" then pinfo.cols.info:set(text) else pinfo.cols.info:append(", " .. text) end
end

local function dissect_message(tvb, pinfo, root)
    pinfo.cols.protocol:set("H264LINK")
    local tree = root:add(h264link, tvb())
    local magic = tvb(0, 4):uint()
    local magic_item = tree:add(f.magic, tvb(0, 4))
    if magic ~= MAGIC then
        tree:add_proto_expert_info(e.bad_magic)
        append_info(pinfo, "not h264link (bad magic)")
        return tvb:len()
    end
    magic_item:append_text(' ("H2LK")')
    local version, kind = tvb(4, 1):uint(), tvb(5, 1):uint()
    local flags, length = tvb(6, 2):uint(), tvb(20, 4):uint()
    local name = type_names[kind] or string.format("type 0x%02X", kind)
    tree:add(f.version, tvb(4, 1))
    local type_item = tree:add(f.type, tvb(5, 1))
    local flags_tree = tree:add(f.flags, tvb(6, 2))
    if kind == T.MEDIA then
        flags_tree:append_text(" (" .. flags_text(flags) .. ")")
        flags_tree:add(f.keyframe, tvb(6, 2))
        flags_tree:add(f.param_sets, tvb(6, 2))
        flags_tree:add(f.au_start, tvb(6, 2))
        flags_tree:add(f.au_end, tvb(6, 2))
        flags_tree:add(f.decode_only, tvb(6, 2))
    end
    tree:add(f.seq, tvb(8, 4))
    tree:add(f.timestamp, tvb(12, 8))
    local length_item = tree:add(f.length, tvb(20, 4))
    if length > MAX_PAYLOAD then
        length_item:add_proto_expert_info(e.too_large)
        append_info(pinfo, name .. " with an oversized length")
        return tvb:len()
    end
    tree:set_text(string.format("h264link %s, seq %d, %d bytes", name, tvb(8, 4):uint(), length))
    local frozen = kind == T.HELLO or kind == T.ERROR
    if not frozen and (version < MIN_VERSION or version > MAX_VERSION) then
        tree:add_proto_expert_info(e.version)
    end

    local reader = readers[kind]
    local summary = ""
    if not reader then
        type_item:add_proto_expert_info(e.unknown_type)
    elseif length == 0 then
        if kind ~= T.PING and kind ~= T.ACCEPTED then tree:add_proto_expert_info(e.short) end
    else
        local payload_tree = tree:add(tvb(HEADER_SIZE, length), name .. " payload")
        local ok, result = pcall(reader, tvb(HEADER_SIZE, length), payload_tree)
        if ok then
            summary = result
        elseif result == Short then
            payload_tree:add_proto_expert_info(e.short)
        else
            error(result, 0)
        end
    end
    local text = string.format("%s #%d", name, tvb(8, 4):uint())
    if kind == T.MEDIA then text = text .. " [" .. flags_text(flags) .. "]" end
    if summary ~= "" then text = text .. " " .. summary end
    append_info(pinfo, text)
    return HEADER_SIZE + length
end

function h264link.dissector(tvb, pinfo, root)
    pinfo.cols.info:clear()
    dissect_tcp_pdus(tvb, root, HEADER_SIZE, message_length, dissect_message, true)
    return tvb:len()
end

-- ---- Registration ----------------------------------------------------------

local tcp_port = DissectorTable.get("tcp.port")
local registered_port = h264link.prefs.port
tcp_port:add(registered_port, h264link)

function h264link.prefs_changed()
    if registered_port ~= h264link.prefs.port then
        tcp_port:remove(registered_port, h264link)
        registered_port = h264link.prefs.port
        tcp_port:add(registered_port, h264link)
    end
end

-- Any port: a connection whose first segment starts with the magic, a known
-- type and a plausible length. The whole conversation is then ours, so that
-- the segments after it (mid-message) reach the dissector too.
local function heuristic(tvb, pinfo, root)
    if tvb:len() < 6 or tvb(0, 4):uint() ~= MAGIC then return false end
    if tvb(4, 1):uint() == 0 or not type_names[tvb(5, 1):uint()] then return false end
    if tvb:len() >= HEADER_SIZE and tvb(20, 4):uint() > MAX_PAYLOAD then return false end
    pinfo.conversation = h264link
    h264link.dissector(tvb, pinfo, root)
    return true
end
h264link:register_heuristic("tcp", heuristic)
