using System.Buffers;
using System.Text;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// The UTF-8 bytes each id stands for. Decoding at byte level (rather than per-token strings) is what
/// lets a character split across tokens come out whole; special tokens map to no bytes so they vanish.
/// </summary>
internal sealed class TokenByteTable(byte[][] bytesById)
{
    public int Count => bytesById.Length;

    public ReadOnlySpan<byte> this[int id] =>
        (uint)id < (uint)bytesById.Length
            ? bytesById[id]
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id is outside the vocabulary of {bytesById.Length}.");

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var utf8 = new ArrayBufferWriter<byte>();
        foreach (int id in ids)
            utf8.Write(this[id]);
        return Encoding.UTF8.GetString(utf8.WrittenSpan);
    }

    public IStreamingDecoder CreateStreamingDecoder() => new Utf8StreamingDecoder(this);
}
