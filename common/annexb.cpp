#include "annexb.h"

namespace h264link::annexb {
namespace {

// Index of the first byte after the next 00 00 01, or -1.
qsizetype nextStartCodeEnd(const QByteArray &s, qsizetype from)
{
    for (qsizetype i = from; i + 2 < s.size(); ++i) {
        if (s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1)
            return i + 3;
    }
    return -1;
}

} // namespace

std::vector<NalUnit> split(const QByteArray &s, bool stopAtSlice)
{
    std::vector<NalUnit> units;
    qsizetype begin = nextStartCodeEnd(s, 0);
    while (begin >= 0 && begin < s.size()) {
        if (stopAtSlice && isSlice(uchar(s[begin]) & 0x1F)) {
            units.push_back({begin, s.size() - begin, uchar(s[begin]) & 0x1F}); // size not scanned
            break;
        }
        const qsizetype nextEnd = nextStartCodeEnd(s, begin);
        qsizetype end = nextEnd < 0 ? s.size() : nextEnd - 3;
        // A 4-byte start code leaves its leading zero at the end of this unit;
        // trailing zeros are never part of a NAL unit (rbsp_trailing_bits).
        while (end > begin && s[end - 1] == 0)
            --end;
        units.push_back({begin, end - begin, uchar(s[begin]) & 0x1F});
        begin = nextEnd;
    }
    return units;
}

bool isSlice(int type)
{
    return type >= NonIdrSlice && type <= IdrSlice;
}

QByteArray parameterSets(const QByteArray &accessUnit)
{
    QByteArray sets;
    for (const NalUnit &u : split(accessUnit, true)) { // parameter sets precede the slices
        if (u.type == Sps || u.type == Pps)
            sets += QByteArray("\0\0\0\1", 4) + accessUnit.mid(u.offset, u.size);
    }
    return sets;
}

} // namespace h264link::annexb
