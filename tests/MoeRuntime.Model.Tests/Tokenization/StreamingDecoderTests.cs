using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Model.Tests.Tokenization;

public class StreamingDecoderTests
{
    private readonly ByteLevelTokenizer _tokenizer = new();

    [Fact]
    public void FourByteEmojiIsEmittedOnceAfterItsLastByte()
    {
        IStreamingDecoder decoder = _tokenizer.CreateStreamingDecoder();
        IReadOnlyList<int> emojiBytes = _tokenizer.Encode("🙂", addBeginOfSequence: false);
        Assert.Equal(4, emojiBytes.Count);

        string[] pieces = emojiBytes.Select(decoder.Append).ToArray();

        Assert.Equal(["", "", "", "🙂"], pieces);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void StreamedPiecesConcatenateToTheTextWithoutReplacementCharacters()
    {
        const string text = "héllo 世界 🙂";
        IStreamingDecoder decoder = _tokenizer.CreateStreamingDecoder();

        List<string> pieces = _tokenizer.Encode(text).Select(decoder.Append).ToList();
        pieces.Add(decoder.Flush());

        Assert.DoesNotContain(pieces, piece => piece.Contains('\uFFFD'));
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void FlushReportsATruncatedCharacterAndStartsOver()
    {
        IStreamingDecoder decoder = _tokenizer.CreateStreamingDecoder();
        IReadOnlyList<int> emojiBytes = _tokenizer.Encode("🙂", addBeginOfSequence: false);

        Assert.Equal("", decoder.Append(emojiBytes[0]));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("A", decoder.Append('A'));
    }
}
