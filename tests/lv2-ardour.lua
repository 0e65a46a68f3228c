-- The rnnjam plugin in an Ardour session, headless (ardour7-lua, Ardour's
-- Dummy backend).  usage: ardour7-lua lv2-ardour.lua new|reopen DIR OUT
--
-- new:    a session in DIR with a MIDI track "Jam": a MIDI region holding
--         a 16-note phrase, Ardour's MIDI monitor, rnnjam (answers on
--         channel 2), a second monitor; the transport rolls for 14 s and
--         stops; the session is saved.
-- reopen: the saved session loaded, rolled and stopped the same way.
-- Both write what came out of rnnjam to OUT, one "status data1 data2"
-- line per MIDI message in order (decimal), after "in N" (note-ons that went into
-- the plugin).  The shell test judges.
io.stdout:setvbuf("no")
local mode, dir, out = arg[1], arg[2], arg[3]
ARDOUR.config():set_hide_dummy_backend(false)
AudioEngine:set_backend("None (Dummy)", "", "")

local s
local jam
if mode == "new" then
  s = create_session(dir, "jam", 48000)
  assert(s, "create_session failed")
  local midi = ARDOUR.DataType("midi")
  jam = s:new_midi_track(ARDOUR.ChanCount(midi, 1), ARDOUR.ChanCount(midi, 1),
    false, ARDOUR.PluginInfo(), nil, nil, 1, "Jam",
    ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true,
    false):front()
  local tr = jam:to_track()
  -- an empty MIDI region (a bounce of the empty track), then its notes
  local r = tr:bounce_range(0, 48000 * 10, ARDOUR.InterThreadInfo(),
    ARDOUR.LuaAPI.nil_proc(), false, "call", false)
  tr:playlist():add_region(r, Temporal.timepos_t(0), 1, false)
  local mm = r:to_midiregion():midi_source(0):model()
  local cmd = mm:new_note_diff_command("call")
  local pitches = {60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62,
                   60, 62}
  -- at the session's 120 bpm: one note every 0.6 beat, half a beat long
  for i, p in ipairs(pitches) do
    cmd:add(ARDOUR.LuaAPI.new_noteptr(0,
      Temporal.Beats(0, 1920 + (i - 1) * 1152), Temporal.Beats(0, 960), p, 90))
  end
  mm:apply_command(s, cmd)
  local before = ARDOUR.LuaAPI.new_luaproc(s, "ACE MIDI Monitor")
  local p = ARDOUR.LuaAPI.new_plugin(s, "urn:rnnjam:lv2",
    ARDOUR.PluginType.LV2, "")
  assert(not p:isnil(), "rnnjam not found (LV2_PATH?)")
  local after = ARDOUR.LuaAPI.new_luaproc(s, "ACE MIDI Monitor")
  assert(jam:add_processor_by_index(before, 0, nil, true) == 0)
  assert(jam:add_processor_by_index(p, 1, nil, true) == 0)
  assert(jam:add_processor_by_index(after, 2, nil, true) == 0)
  ARDOUR.LuaAPI.set_processor_param(p, 5, 2) -- channel: answers on 2
  -- answers of 8 notes, over well before the transport stops: Ardour
  -- ends what it thinks sounds at a stop with note-offs of its own
  ARDOUR.LuaAPI.set_processor_param(p, 2, 8)
else
  s = load_session(dir, "jam")
  assert(s, "load_session failed")
  jam = s:route_by_name("Jam")
end

-- the monitors, in processor order: before and after rnnjam
local mons = {}
local i = 0
while true do
  local proc = jam:nth_plugin(i)
  if proc:isnil() then break end
  if proc:display_name():find("MIDI Monitor") then mons[#mons + 1] = proc end
  i = i + 1
end
assert(#mons == 2, "expected two MIDI monitors, found " .. #mons)

-- each monitor keeps its last 60 events in a ring (slot 0: the index)
local function reader(proc)
  local sh = proc:to_insert():plugin(0):to_luaproc():shmem()
  local last = sh:atomic_get_int(0)
  local ev = {}
  return function()
    local pos = sh:atomic_get_int(0)
    local buf = sh:to_int(1):array()
    while last ~= pos do
      last = last % 60 + 1
      local b = (last - 1) * 3
      ev[#ev + 1] = {buf[b + 1], buf[b + 2], buf[b + 3]}
    end
    return ev
  end
end
local rin, rout = reader(mons[1]), reader(mons[2])
local ein, eout
s:goto_start(false)
s:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
for _ = 1, 160 do
  ARDOUR.LuaAPI.usleep(100000)
  ein = rin()
  eout = rout()
end
print("rolled to", s:transport_sample() / 48000, "s")
s:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
for _ = 1, 10 do
  ARDOUR.LuaAPI.usleep(100000)
  ein = rin()
  eout = rout()
end

local f = assert(io.open(out, "w"))
local n_in = 0
for _, e in ipairs(ein) do
  if e[1] == 0x90 and e[3] > 0 then n_in = n_in + 1 end
end
f:write(string.format("in %d\n", n_in))
for _, e in ipairs(eout) do
  f:write(string.format("%d %d %d\n", e[1], e[2], e[3]))
end
f:close()
if mode == "new" then s:save_state("", false, false, false, false, false) end
