using System.Text;

namespace MoeRuntime.Model.Tokenization;

/// <summary>Streams token bytes through one stateful UTF-8 decoder per request.</summary>
internal sealed class Utf8StreamingDecoder(TokenByteTable tokens) : IStreamingDecoder
{
    // System.Text.Decoder keeps the leading bytes of an unfinished character between calls instead
    // of replacing them, which is exactly the split-over-tokens case.
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
    private char[] _chars = new char[32];

    public string Append(int id) => Convert(tokens[id], flush: false);

    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int maxChars = Encoding.UTF8.GetMaxCharCount(bytes.Length);
        if (_chars.Length < maxChars)
            _chars = new char[Math.Max(maxChars, _chars.Length * 2)];
        int written = _utf8.GetChars(bytes, _chars, flush);
        return written == 0 ? string.Empty : new string(_chars, 0, written);
    }
}
