// H.264 Annex B helpers: find NAL units between start codes 00 00 01 and
// 00 00 00 01, the way a receiver splits a raw elementary stream.
#pragma once

#include <QByteArray>
#include <vector>

namespace h264link::annexb {

enum NalType : int {
    NonIdrSlice = 1,
    IdrSlice = 5,
    Sei = 6,
    Sps = 7,
    Pps = 8,
    AccessUnitDelimiter = 9,
};

struct NalUnit {
    qsizetype offset = 0; // first byte after the start code (the NAL header)
    qsizetype size = 0;   // up to the next start code or the end of the data
    int type = 0;         // nal_unit_type, the low 5 bits of the NAL header
};

// With `stopAtSlice`, splitting ends after the first slice NAL unit: what
// comes before it (delimiter, SEI, SPS, PPS) is all a per-frame check needs,
// and the slice data, most of the bytes, is never scanned.
std::vector<NalUnit> split(const QByteArray &stream, bool stopAtSlice = false);
bool isSlice(int type);
// The SPS and PPS NAL units of an access unit, each behind a 4-byte start
// code, ready to put in front of a keyframe; empty if it has none.
QByteArray parameterSets(const QByteArray &accessUnit);

} // namespace h264link::annexb
