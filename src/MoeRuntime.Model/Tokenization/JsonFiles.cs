using System.Text.Json;

namespace MoeRuntime.Model.Tokenization;

/// <summary>Reads checkpoint JSON files, turning parse failures into errors that name the file.</summary>
internal static class JsonFiles
{
    private static readonly JsonDocumentOptions Lenient = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    public static JsonDocument? TryParse(string path) => File.Exists(path) ? Parse(path) : null;

    public static JsonDocument Parse(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, Lenient);
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>The property's value, or null when it is absent or JSON null.</summary>
    public static JsonElement? Find(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object
        && element.TryGetProperty(name, out JsonElement value)
        && value.ValueKind != JsonValueKind.Null
            ? value
            : null;
}
