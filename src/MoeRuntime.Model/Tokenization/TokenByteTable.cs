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

    /// <summary>
    /// The bytes of <paramref name="id"/>. An id past the tokenizer's table (a model's padded embedding rows:
    /// <c>vocab_size</c> larger than the tokenizer) decodes to no bytes, as Hugging Face tokenizers skip ids they do
    /// not know, so a stream never aborts half-way; the id itself is still reported. Negative ids are an error.
    /// </summary>
    public ReadOnlySpan<byte> this[int id] =>
        (uint)id < (uint)bytesById.Length ? bytesById[id]
        : id >= 0 ? ReadOnlySpan<byte>.Empty
        : throw new ArgumentOutOfRangeException(nameof(id), id, "Token ids are never negative.");

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
