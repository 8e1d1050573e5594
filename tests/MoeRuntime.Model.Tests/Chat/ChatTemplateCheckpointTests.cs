using MoeRuntime.Model.Chat;

namespace MoeRuntime.Model.Tests.Chat;

public class ChatTemplateCheckpointTests
{
    private static readonly ChatMessage[] Hello = [new("user", "Hello")];

    [Fact]
    public void ReadsTheTemplateAndTokenObjects()
    {
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer_config.json", """
            {
              "add_bos_token": true,
              "bos_token": { "__type": "AddedToken", "content": "<s>", "lstrip": false },
              "eos_token": "</s>",
              "chat_template": "{{ bos_token }}{% for message in messages %}[{{ message['content'] }}]{{ eos_token }}{% endfor %}",
            }
            """);

        ChatTemplate template = ChatTemplate.ForCheckpoint(checkpoint.Path);

        Assert.Equal("<s>[Hello]</s>", template.Render(Hello));
        Assert.Equal("<s>", template.BeginOfSequence);
        Assert.Equal(Path.GetFileName(checkpoint.Path), template.Name);
    }

    [Fact]
    public void TakesTheDefaultOfNamedTemplates()
    {
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer_config.json", """
            {
              "bos_token": null,
              "chat_template": [
                { "name": "tool_use", "template": "tools" },
                { "name": "default", "template": "default:{{ messages[0].content }}" }
              ]
            }
            """);

        Assert.Equal("default:Hello", ChatTemplate.ForCheckpoint(checkpoint.Path).Render(Hello));
    }

    [Fact]
    public void NamedTemplatesWithoutADefaultAreAnError()
    {
        using TempDirectory checkpoint = new TempDirectory().With(
            "tokenizer_config.json", """{ "chat_template": [ { "name": "rag", "template": "x" } ] }""");

        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.ForCheckpoint(checkpoint.Path));
        Assert.Contains("chat_template lists templates (rag) but none named \"default\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChatTemplateJinjaTakesPrecedence()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer_config.json", """{ "eos_token": "<|im_end|>", "chat_template": "from config" }""")
            .With("chat_template.jinja", "from jinja{{ eos_token }}");

        Assert.Equal("from jinja<|im_end|>", ChatTemplate.ForCheckpoint(checkpoint.Path).Render(Hello));
    }

    [Fact]
    public void NoTemplateMeansPlain()
    {
        using TempDirectory withoutTemplate = new TempDirectory().With("tokenizer_config.json", """{ "eos_token": "</s>" }""");
        using TempDirectory withoutConfig = new();

        Assert.Same(ChatTemplate.Plain, ChatTemplate.ForCheckpoint(withoutTemplate.Path));
        Assert.Same(ChatTemplate.Plain, ChatTemplate.ForCheckpoint(withoutConfig.Path));
        Assert.Equal("User: Hello\n\nAssistant:", ChatTemplate.ForCheckpoint(withoutConfig.Path).Render(Hello));
    }

    [Fact]
    public void UnsupportedTemplateIsRefusedWhenLoaded()
    {
        using TempDirectory checkpoint = new TempDirectory().With(
            "tokenizer_config.json", """{ "chat_template": "{% macro m() %}{% endmacro %}" }""");

        var error = Assert.Throws<ChatTemplateException>(() => ChatTemplate.ForCheckpoint(checkpoint.Path));
        Assert.Contains("the 'macro' statement is not supported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedConfigurationIsAnError()
    {
        using TempDirectory notJson = new TempDirectory().With("tokenizer_config.json", "{ not json");
        using TempDirectory wrongType = new TempDirectory().With("tokenizer_config.json", """{ "chat_template": 42 }""");
        using TempDirectory wrongToken = new TempDirectory().With("tokenizer_config.json", """{ "eos_token": 2, "chat_template": "x" }""");

        Assert.Contains("not valid JSON", Assert.Throws<ChatTemplateException>(() => ChatTemplate.ForCheckpoint(notJson.Path)).Message, StringComparison.Ordinal);
        Assert.Contains("chat_template must be a string", Assert.Throws<ChatTemplateException>(() => ChatTemplate.ForCheckpoint(wrongType.Path)).Message, StringComparison.Ordinal);
        Assert.Contains("eos_token must be a string", Assert.Throws<ChatTemplateException>(() => ChatTemplate.ForCheckpoint(wrongToken.Path)).Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => ChatTemplate.ForCheckpoint(Path.Combine(notJson.Path, "missing")));
    }
}
