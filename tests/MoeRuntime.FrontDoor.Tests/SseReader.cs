using System.Text.Json;

namespace MoeRuntime.FrontDoor.Tests;

static class Sse
{
    /// <summary>The <c>data:</c> payloads of a whole event stream, checking each event is one line and a blank line.</summary>
    public static List<string> Events(string body)
    {
        Assert.EndsWith("\n\n", body);
        var events = new List<string>();
        foreach (string e in body[..^2].Split("\n\n"))
        {
            Assert.StartsWith("data: ", e);
            Assert.DoesNotContain('\n', e);
            events.Add(e["data: ".Length..]);
        }
        return events;
    }

    public static JsonElement Json(string payload) => JsonDocument.Parse(payload).RootElement.Clone();

    /// <summary>The concatenated text of the chunks for choice <paramref name="index"/>.</summary>
    public static string Text(IEnumerable<string> events, bool chat, int index = 0) => string.Concat(events.Where(e => e != "[DONE]").Select(Json)
        .SelectMany(j => j.GetProperty("choices").EnumerateArray())
        .Where(c => c.GetProperty("index").GetInt32() == index)
        .Select(c => chat
            ? c.GetProperty("delta").TryGetProperty("content", out JsonElement t) ? t.GetString() : ""
            : c.GetProperty("text").GetString()));
}
