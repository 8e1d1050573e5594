using System.Collections;
using System.Text.Json;

namespace MoeRuntime.Model.Chat;

/// <summary>
/// A checkpoint's chat template: the Jinja program in its tokenizer_config.json that turns a list of messages into
/// the prompt text the model was trained on. The interpreter covers the Jinja subset real MoE chat templates use
/// (Mixtral-Instruct, Qwen1.5/Qwen2-MoE ChatML, Qwen3-MoE, OLMoE-Instruct; see docs/chat-templates.md) with the
/// settings transformers renders with (trim_blocks, lstrip_blocks); any other construct is refused when the
/// template is parsed, naming the construct and its line.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>
    /// The format used for a checkpoint without a template: each message as <c>Role: content</c> followed by a
    /// blank line, then <c>Assistant:</c> when a generation prompt is asked for.
    /// </summary>
    public const string PlainSource =
        "{% for message in messages %}{{ message.role | capitalize }}: {{ message.content }}\n\n{% endfor %}"
        + "{% if add_generation_prompt %}Assistant:{% endif %}";

    /// <summary>
    /// The built-in default model's format: each message as <c>&lt;|role|&gt;</c>, a newline, the content and
    /// <c>&lt;eos&gt;</c>, then <c>&lt;|assistant|&gt;</c> and a newline when a generation prompt is asked for.
    /// </summary>
    public const string BuiltInModelSource =
        "{% for message in messages %}<|{{ message.role }}|>\n{{ message.content }}{{ eos_token }}\n{% endfor %}"
        + "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

    private static readonly JsonDocumentOptions LenientJson = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    private readonly IReadOnlyList<Node> _nodes;

    private ChatTemplate(string name, string source, IReadOnlyList<Node> nodes, string beginOfSequence, string endOfSequence)
    {
        Name = name;
        Source = source;
        _nodes = nodes;
        BeginOfSequence = beginOfSequence;
        EndOfSequence = endOfSequence;
    }

    /// <summary>The format for checkpoints without a template (<see cref="PlainSource"/>).</summary>
    public static ChatTemplate Plain { get; } = Parse(PlainSource, "plain");

    /// <summary>The built-in default model's format (<see cref="BuiltInModelSource"/>).</summary>
    public static ChatTemplate BuiltInModel { get; } = Parse(BuiltInModelSource, "built-in", "<bos>", "<eos>");

    /// <summary>What the template is called in errors and logs (the checkpoint directory's name when loaded from one).</summary>
    public string Name { get; }

    /// <summary>The Jinja source of the template.</summary>
    public string Source { get; }

    /// <summary>
    /// The template's <c>bos_token</c>. Templates that want it (Mixtral, OLMoE) print it themselves, so a rendered
    /// prompt is encoded without an added one (as transformers' <c>apply_chat_template</c> does).
    /// </summary>
    public string BeginOfSequence { get; }

    /// <summary>The template's <c>eos_token</c>.</summary>
    public string EndOfSequence { get; }

    /// <inheritdoc cref="Parse(string, string, string, string)"/>
    public static ChatTemplate Parse(string source, string name) => Parse(source, name, "", "");

    /// <summary>Parses a template, refusing at once anything the interpreter does not support.</summary>
    /// <param name="source">The Jinja source, as the <c>chat_template</c> string of tokenizer_config.json.</param>
    /// <param name="name">The template's name in errors.</param>
    /// <param name="bosToken">The value of <c>bos_token</c> while rendering.</param>
    /// <param name="eosToken">The value of <c>eos_token</c> while rendering.</param>
    /// <exception cref="ChatTemplateException">The template is malformed or uses an unsupported construct; the message
    /// names it and its line.</exception>
    public static ChatTemplate Parse(string source, string name, string bosToken, string eosToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(bosToken);
        ArgumentNullException.ThrowIfNull(eosToken);
        IReadOnlyList<Segment> segments = TemplateLexer.Tokenize(source, name);
        IReadOnlyList<Node> nodes = TemplateParser.Parse(segments, name);
        return new ChatTemplate(name, source, nodes, bosToken, eosToken);
    }

    /// <summary>
    /// The chat template of a Hugging Face checkpoint: <c>chat_template.jinja</c> when present (it takes precedence,
    /// as in transformers), else the <c>chat_template</c> of tokenizer_config.json (a string, or a list of
    /// <c>{name, template}</c> of which the one named <c>default</c> is used), with its <c>bos_token</c> and
    /// <c>eos_token</c>; <see cref="Plain"/> when the checkpoint has no template.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template is unusable or tokenizer_config.json is malformed.</exception>
    public static ChatTemplate ForCheckpoint(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
            throw new DirectoryNotFoundException($"checkpoint directory {modelDirectory} does not exist");
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory)));
        string configPath = Path.Combine(modelDirectory, "tokenizer_config.json");
        string jinjaPath = Path.Combine(modelDirectory, "chat_template.jinja");

        using JsonDocument? config = File.Exists(configPath) ? ReadJson(configPath) : null;
        JsonElement? root = config?.RootElement;
        if (root is { ValueKind: not JsonValueKind.Object })
            throw new ChatTemplateException($"{configPath}: expected a JSON object");
        string bos = ReadSpecialToken(root, "bos_token", configPath);
        string eos = ReadSpecialToken(root, "eos_token", configPath);

        if (File.Exists(jinjaPath))
            return Parse(File.ReadAllText(jinjaPath), name, bos, eos);
        if (root is not { } settings || !settings.TryGetProperty("chat_template", out JsonElement template)
            || template.ValueKind == JsonValueKind.Null)
        {
            return Plain;
        }
        return template.ValueKind switch
        {
            JsonValueKind.String => Parse(template.GetString()!, name, bos, eos),
            JsonValueKind.Array => Parse(DefaultOfNamedTemplates(template, configPath), name, bos, eos),
            _ => throw new ChatTemplateException(
                $"{configPath}: chat_template must be a string or a list of {{\"name\", \"template\"}}, not {template.ValueKind}"),
        };
    }

    /// <summary>Renders a conversation into prompt text.</summary>
    /// <param name="messages">The conversation, oldest first.</param>
    /// <param name="addGenerationPrompt">Whether to end with the start of an assistant turn (true to ask for a reply).</param>
    /// <exception cref="ChatTemplateException">The template rejected the conversation (<c>raise_exception</c>, e.g.
    /// roles that do not alternate; <see cref="ChatTemplateException.RaisedByTemplate"/> is then true and the message is
    /// the template's) or failed while rendering it.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        Render(messages, addGenerationPrompt, new Dictionary<string, object?>());

    /// <summary>Renders with extra template variables (e.g. <c>enable_thinking</c> for Qwen3, or <c>tools</c>).</summary>
    /// <param name="messages">The conversation, oldest first.</param>
    /// <param name="addGenerationPrompt">Whether to end with the start of an assistant turn.</param>
    /// <param name="variables">More variables: strings, booleans, numbers, null, lists, string-keyed dictionaries
    /// and <see cref="JsonElement"/>s; they override the defaults (<c>tools</c> and <c>documents</c> are none).</param>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(variables);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(message => ToValue(message)).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = BeginOfSequence,
            ["eos_token"] = EndOfSequence,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach ((string key, object? value) in variables)
            values[key] = ToValue(value);
        return TemplateRenderer.Render(_nodes, Name, values);
    }

    public override string ToString() => Name;

    private static object? ToValue(object? value) => value switch
    {
        null => null,
        string or bool or long or double => value,
        int or short or byte or uint => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture),
        float or decimal => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
        ChatMessage message => new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["role"] = message.Role,
            ["content"] = message.Content,
        },
        JsonElement element => FromJson(element),
        IDictionary<string, object?> dictionary => dictionary.ToDictionary(pair => pair.Key, pair => ToValue(pair.Value), StringComparer.Ordinal),
        IReadOnlyDictionary<string, object?> dictionary => dictionary.ToDictionary(pair => pair.Key, pair => ToValue(pair.Value), StringComparer.Ordinal),
        IEnumerable items => items.Cast<object?>().Select(ToValue).ToList(),
        _ => throw new ArgumentException($"a template variable cannot be of type {value.GetType().Name}", nameof(value)),
    };

    private static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out long integer) ? (object)integer : element.GetDouble(),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        _ => element.EnumerateObject().ToDictionary(property => property.Name, property => FromJson(property.Value), StringComparer.Ordinal),
    };

    private static JsonDocument ReadJson(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, LenientJson);
        }
        catch (JsonException e)
        {
            throw new ChatTemplateException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    // A special token is written either as its text or as {"content": text, ...}; absent or null means none.
    private static string ReadSpecialToken(JsonElement? root, string property, string path)
    {
        if (root is not { } settings || !settings.TryGetProperty(property, out JsonElement token))
            return "";
        return token.ValueKind switch
        {
            JsonValueKind.Null => "",
            JsonValueKind.String => token.GetString()!,
            JsonValueKind.Object when token.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String
                => content.GetString()!,
            _ => throw new ChatTemplateException($"{path}: {property} must be a string or an object with a \"content\" string"),
        };
    }

    private static string DefaultOfNamedTemplates(JsonElement templates, string path)
    {
        var names = new List<string>();
        foreach (JsonElement entry in templates.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("name", out JsonElement name) || name.ValueKind != JsonValueKind.String
                || !entry.TryGetProperty("template", out JsonElement template) || template.ValueKind != JsonValueKind.String)
            {
                throw new ChatTemplateException($"{path}: each entry of the chat_template list must be {{\"name\": string, \"template\": string}}");
            }
            if (name.GetString() == "default")
                return template.GetString()!;
            names.Add(name.GetString()!);
        }
        throw new ChatTemplateException(
            $"{path}: chat_template lists templates ({string.Join(", ", names)}) but none named \"default\"");
    }
}
