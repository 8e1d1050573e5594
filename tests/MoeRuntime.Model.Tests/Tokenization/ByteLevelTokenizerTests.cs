using System.Text;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Model.Tests.Tokenization;

public class ByteLevelTokenizerTests
{
    private readonly ByteLevelTokenizer _tokenizer = new();

    [Theory]
    [InlineData("Hello, world!")]
    [InlineData("héllo 世界 🙂")]
    [InlineData("")]
    public void RoundTripsTextThroughUtf8ByteIds(string text)
    {
        IReadOnlyList<int> ids = _tokenizer.Encode(text, addBeginOfSequence: false);

        Assert.Equal(Encoding.UTF8.GetBytes(text).Select(b => (int)b), ids);
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void EncodePrependsBeginOfSequenceOnlyWhenAsked()
    {
        Assert.Equal([ByteLevelTokenizer.BeginOfSequenceTokenId, 'A'], _tokenizer.Encode("A"));
        Assert.Equal(['A'], _tokenizer.Encode("A", addBeginOfSequence: false));
    }

    [Fact]
    public void DecodeSkipsSpecialIds()
    {
        int[] ids =
        [
            ByteLevelTokenizer.BeginOfSequenceTokenId, 'h', ByteLevelTokenizer.PaddingTokenId, 'i',
            ByteLevelTokenizer.EndOfSequenceTokenId,
        ];

        Assert.Equal("hi", _tokenizer.Decode(ids));
    }

    [Fact]
    public void ExposesTheBuiltInModelsIds()
    {
        Assert.Equal(259, _tokenizer.VocabularySize);
        Assert.Equal(256, _tokenizer.BeginOfSequenceId);
        Assert.Equal([257], _tokenizer.EndOfSequenceIds);
    }

    [Fact]
    public void DecodeRejectsNegativeIdsAndSkipsIdsPastTheTable()
    {
        // Ids past the table are a padded model vocabulary's (docs/architectures.md): they decode to no text.
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([-1]));
        Assert.Equal("a", _tokenizer.Decode(['a', ByteLevelTokenizer.TokenCount]));
    }
}
