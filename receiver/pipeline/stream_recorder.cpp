#include "stream_recorder.h"

#include "logging.h"
#include "protocol.h"

extern "C" {
#include <libavcodec/bsf.h>
}

namespace h264link {

namespace {
constexpr AVRational kMicros{1, 1000000};

// The SPS/PPS of `packet`, as extract_extradata finds them; empty if none.
QByteArray parameterSets(const AVPacket *packet)
{
    const AVBitStreamFilter *filter = av_bsf_get_by_name("extract_extradata");
    AVBSFContext *bsf = nullptr;
    if (!filter || av_bsf_alloc(filter, &bsf) < 0)
        return {};
    QByteArray sets;
    bsf->par_in->codec_type = AVMEDIA_TYPE_VIDEO;
    bsf->par_in->codec_id = AV_CODEC_ID_H264;
    PacketPtr copy = makePacket();
    if (av_bsf_init(bsf) >= 0 && copy && av_packet_ref(copy.get(), packet) >= 0
        && av_bsf_send_packet(bsf, copy.get()) >= 0 && av_bsf_receive_packet(bsf, copy.get()) >= 0) {
        size_t size = 0;
        if (const uint8_t *data = av_packet_get_side_data(copy.get(), AV_PKT_DATA_NEW_EXTRADATA, &size))
            sets = QByteArray(reinterpret_cast<const char *>(data), qsizetype(size));
    }
    av_bsf_free(&bsf);
    return sets;
}
} // namespace

StreamRecorder::~StreamRecorder()
{
    close();
}

void StreamRecorder::failLocked(const QString &what, int ret)
{
    // Said once, by the stream's summary (the stream fails on it).
    if (m_error.isEmpty())
        m_error = QStringLiteral("--record: %1 '%2': %3").arg(what, m_path, averrorDetail(ret));
}

void StreamRecorder::configure(bool video, int width, int height, quint32 audioCodec, int sampleRate, int channels)
{
    QMutexLocker lock(&m_mutex);
    if (m_configured)
        return;
    m_configured = true;
    m_video = video;
    m_width = width;
    m_height = height;
    m_audioCodec = audioCodec;
    m_sampleRate = sampleRate;
    m_channels = channels;
}

void StreamRecorder::setDisplayMatrix(const std::array<qint32, 9> &matrix)
{
    QMutexLocker lock(&m_mutex);
    if (matrix != proto::kIdentityMatrix)
        m_displayMatrix = matrix;
}

bool StreamRecorder::startLocked(const AVPacket *firstVideo)
{
    AVFormatContext *raw = nullptr;
    const QByteArray path = m_path.toUtf8();
    int ret = avformat_alloc_output_context2(&raw, nullptr, nullptr, path.constData());
    if (ret < 0) {
        failLocked(QStringLiteral("cannot record to"), ret);
        return false;
    }
    m_format.reset(raw);
    if (m_video) {
        AVStream *st = avformat_new_stream(raw, nullptr);
        const QByteArray sets = parameterSets(firstVideo);
        if (!st || sets.isEmpty()) {
            failLocked(QStringLiteral("cannot describe the video for"), AVERROR(ENOMEM));
            return false;
        }
        st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
        st->codecpar->codec_id = AV_CODEC_ID_H264;
        st->codecpar->extradata = static_cast<uint8_t *>(av_mallocz(size_t(sets.size()) + AV_INPUT_BUFFER_PADDING_SIZE));
        memcpy(st->codecpar->extradata, sets.constData(), size_t(sets.size()));
        st->codecpar->extradata_size = int(sets.size());
        st->codecpar->width = m_width; // STREAM_INFO's: the muxers want it in their header
        st->codecpar->height = m_height;
        st->time_base = kMicros;
        if (m_displayMatrix) {
            uint8_t *side = av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, sizeof(*m_displayMatrix));
            if (!side) {
                failLocked(QStringLiteral("cannot describe the video for"), AVERROR(ENOMEM));
                return false;
            }
            memcpy(side, m_displayMatrix->data(), sizeof(*m_displayMatrix));
        }
        m_videoIndex = st->index;
    }
    if (m_audioCodec != proto::kCodecNone) {
        AVStream *st = avformat_new_stream(raw, nullptr);
        if (!st) {
            failLocked(QStringLiteral("cannot describe the sound for"), AVERROR(ENOMEM));
            return false;
        }
        st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
        st->codecpar->codec_id = m_audioCodec == proto::kCodecMp3 ? AV_CODEC_ID_MP3 : AV_CODEC_ID_AAC;
        st->codecpar->sample_rate = m_sampleRate;
        av_channel_layout_default(&st->codecpar->ch_layout, m_channels);
        st->time_base = AVRational{1, m_sampleRate > 0 ? m_sampleRate : 1000000};
        m_audioIndex = st->index;
    }
    if ((ret = avio_open(&raw->pb, path.constData(), AVIO_FLAG_WRITE)) < 0) {
        failLocked(QStringLiteral("cannot write"), ret);
        return false;
    }
    if ((ret = avformat_write_header(raw, nullptr)) < 0) {
        failLocked(QStringLiteral("cannot start"), ret);
        return false;
    }
    m_started = true;
    while (!m_earlyAudio.empty()) {
        writeLocked(m_earlyAudio.front().get(), m_audioIndex);
        m_earlyAudio.pop_front();
    }
    return true;
}

void StreamRecorder::writeLocked(const AVPacket *packet, int streamIndex)
{
    if (!m_error.isEmpty() || streamIndex < 0 || packet->pts == AV_NOPTS_VALUE)
        return;
    PacketPtr copy = makePacket();
    if (!copy || av_packet_ref(copy.get(), packet) < 0)
        return;
    AVStream *st = m_format->streams[streamIndex];
    copy->stream_index = streamIndex;
    copy->flags &= AV_PKT_FLAG_KEY; // our own high bits are not FFmpeg's
    if (copy->dts == AV_NOPTS_VALUE) // audio: in order, dts = pts (video's is set by writeVideoLocked)
        copy->dts = copy->pts;
    av_packet_rescale_ts(copy.get(), kMicros, st->time_base);
    const int ret = av_interleaved_write_frame(m_format.get(), copy.get());
    if (ret < 0)
        failLocked(QStringLiteral("cannot write"), ret);
}

void StreamRecorder::pushVideo(const AVPacket *packet)
{
    QMutexLocker lock(&m_mutex);
    if (m_closed || !m_error.isEmpty())
        return;
    if (!m_configured) {
        ++m_skipped;
        return;
    }
    if (!m_started) {
        if (!(packet->flags & AV_PKT_FLAG_KEY) || parameterSets(packet).isEmpty()) {
            ++m_skipped;
            return;
        }
        if (!startLocked(packet))
            return;
    }
    if (packet->pts == AV_NOPTS_VALUE) // the wire always has one; a file sample cannot do without
        return;
    PacketPtr copy = makePacket();
    if (!copy || av_packet_ref(copy.get(), packet) < 0)
        return;
    m_reorderPts.insert(copy->pts);
    m_reorder.push_back(std::move(copy));
    if (m_reorder.size() > kReorderWindow)
        writeVideoLocked();
}

void StreamRecorder::writeVideoLocked()
{
    if (!m_dtsShift) { // the first window: how far a pts falls behind its rank
        qint64 shift = 0;
        auto rank = m_reorderPts.begin();
        for (const PacketPtr &p : m_reorder)
            shift = std::max<qint64>(shift, *rank++ - p->pts);
        m_dtsShift = shift;
    }
    PacketPtr packet = std::move(m_reorder.front());
    m_reorder.pop_front();
    const qint64 rank = *m_reorderPts.begin();
    m_reorderPts.erase(m_reorderPts.begin());
    // The frame duration: the gap to the next pts in display order (mp4
    // needs it for its last sample, else an edit list cuts it).
    if (!m_reorderPts.empty() && *m_reorderPts.begin() > rank)
        m_lastVideoGap = *m_reorderPts.begin() - rank;
    packet->duration = m_lastVideoGap;
    qint64 dts = rank - *m_dtsShift;
    if (m_lastVideoDts != AV_NOPTS_VALUE && dts <= m_lastVideoDts) // a pts repeated: keep it rising
        dts = m_lastVideoDts + 1;
    packet->dts = std::min<qint64>(dts, packet->pts); // deeper reordering than the first window showed
    m_lastVideoDts = packet->dts;
    writeLocked(packet.get(), m_videoIndex);
}

void StreamRecorder::pushAudio(const AVPacket *packet)
{
    QMutexLocker lock(&m_mutex);
    if (m_closed || !m_error.isEmpty())
        return;
    if (!m_configured) {
        ++m_audioSkipped;
        return;
    }
    if (!m_started && !m_video && !startLocked(nullptr))
        return;
    if (!m_started) {
        PacketPtr copy = makePacket();
        if (copy && av_packet_ref(copy.get(), packet) >= 0)
            m_earlyAudio.push_back(std::move(copy));
        else
            ++m_audioSkipped;
        if (m_earlyAudio.size() > kMaxEarlyAudio) {
            m_earlyAudio.pop_front();
            ++m_audioSkipped;
        }
        return;
    }
    writeLocked(packet, m_audioIndex);
}

bool StreamRecorder::close()
{
    QMutexLocker lock(&m_mutex);
    if (m_closed)
        return m_error.isEmpty();
    m_closed = true;
    m_audioSkipped += m_earlyAudio.size(); // no keyframe came for them
    m_earlyAudio.clear();
    while (m_started && !m_reorder.empty())
        writeVideoLocked();
    if (m_started) {
        const int ret = av_write_trailer(m_format.get());
        if (ret < 0)
            failLocked(QStringLiteral("cannot finish"), ret);
        avio_closep(&m_format->pb);
    }
    return m_error.isEmpty();
}

QString StreamRecorder::error() const
{
    QMutexLocker lock(&m_mutex);
    return m_error;
}

quint64 StreamRecorder::videoPacketsSkipped() const
{
    QMutexLocker lock(&m_mutex);
    return m_skipped;
}

quint64 StreamRecorder::audioPacketsSkipped() const
{
    QMutexLocker lock(&m_mutex);
    return m_audioSkipped;
}

} // namespace h264link
