using MoeRuntime.Model.Chat;
using static MoeRuntime.Model.Tests.Chat.RealChatTemplates;

namespace MoeRuntime.Model.Tests.Chat;

/// <summary>
/// Real checkpoints' templates rendered for the usual conversations. Every expected string was written by hand from
/// reading the template (and transformers' trim_blocks/lstrip_blocks settings), not produced by this interpreter.
/// </summary>
public class RealChatTemplateTests
{
    private static readonly ChatMessage System = new("system", "You are a helpful assistant.");
    private static readonly ChatMessage User = new("user", "Hello");
    private static readonly ChatMessage Assistant = new("assistant", "Hi there!");
    private static readonly ChatMessage SecondUser = new("user", "What is 2+2?");

    private static ChatTemplate Mixtral => ChatTemplate.Parse(MixtralInstructV01, "mixtral", "<s>", "</s>");

    private static ChatTemplate MixtralOriginal => ChatTemplate.Parse(MixtralInstructV01Original, "mixtral-2023", "<s>", "</s>");

    private static ChatTemplate Olmoe => ChatTemplate.Parse(OlmoeInstruct, "olmoe", "<|endoftext|>", "<|endoftext|>");

    // Qwen writes "bos_token": null and eos_token "<|im_end|>" (Qwen3) or "<|endoftext|>" (Qwen1.5/2 MoE).
    private static ChatTemplate Qwen3Template => ChatTemplate.Parse(Qwen3, "qwen3", "", "<|im_end|>");

    [Fact]
    public void MixtralSingleUserMessage()
    {
        Assert.Equal("<s> [INST] Hello [/INST]", Mixtral.Render([User]));
        // The template has no generation prompt: the [/INST] is the prompt.
        Assert.Equal("<s> [INST] Hello [/INST]", Mixtral.Render([User], addGenerationPrompt: false));
    }

    [Fact]
    public void MixtralSystemMessageJoinsTheFirstUserMessage()
    {
        Assert.Equal(
            "<s> [INST] You are a helpful assistant.\n\nHello [/INST]",
            Mixtral.Render([System, User]));
    }

    [Fact]
    public void MixtralMultiTurn()
    {
        Assert.Equal(
            "<s> [INST] Hello [/INST] Hi there!</s> [INST] What is 2+2? [/INST]",
            Mixtral.Render([User, Assistant, SecondUser]));
        Assert.Equal(
            "<s> [INST] You are a helpful assistant.\n\nHello [/INST] Hi there!</s> [INST] What is 2+2? [/INST]",
            Mixtral.Render([System, User, Assistant, SecondUser], addGenerationPrompt: false));
    }

    [Fact]
    public void MixtralRefusesRolesThatDoNotAlternate()
    {
        var error = Assert.Throws<ChatTemplateException>(() => Mixtral.Render([User, SecondUser]));
        Assert.Equal(
            "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...",
            error.Message);
        Assert.True(error.RaisedByTemplate);
        Assert.Equal("mixtral", error.TemplateName);

        error = Assert.Throws<ChatTemplateException>(() => Mixtral.Render([System, Assistant]));
        Assert.StartsWith("After the optional system message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MixtralRefusesOtherRoles()
    {
        var error = Assert.Throws<ChatTemplateException>(() => Mixtral.Render([User, new ChatMessage("tool", "42")]));
        Assert.Equal(
            "Only user and assistant roles are supported, with the exception of an initial optional system message!",
            error.Message);
        Assert.True(error.RaisedByTemplate);
    }

    [Fact]
    public void OriginalMixtralTemplate()
    {
        Assert.Equal("<s>[INST] Hello [/INST]", MixtralOriginal.Render([User]));
        Assert.Equal(
            "<s>[INST] Hello [/INST]Hi there!</s>[INST] What is 2+2? [/INST]",
            MixtralOriginal.Render([User, Assistant, SecondUser], addGenerationPrompt: false));
        // It has no system role: a system message first breaks the alternation check before the role check.
        var error = Assert.Throws<ChatTemplateException>(() => MixtralOriginal.Render([System, User]));
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", error.Message);
    }

    [Fact]
    public void QwenChatMlAddsTheDefaultSystemMessage()
    {
        var qwen = ChatTemplate.Parse(QwenChatMl, "qwen2-moe", "", "<|endoftext|>");
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            qwen.Render([User]));
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n",
            qwen.Render([User], addGenerationPrompt: false));
    }

    [Fact]
    public void QwenChatMlSystemAndMultiTurn()
    {
        var qwen = ChatTemplate.Parse(QwenChatMl, "qwen2-moe", "", "<|endoftext|>");
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            qwen.Render([System, User]));
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
            + "<|im_start|>assistant\nHi there!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            qwen.Render([User, Assistant, SecondUser]));
    }

    [Fact]
    public void Qwen15ChatMlLeavesTheLastMessageOpenWithoutAGenerationPrompt()
    {
        var qwen = ChatTemplate.Parse(Qwen15ChatMl, "qwen1.5", "", "<|endoftext|>");
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            qwen.Render([User]));
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello",
            qwen.Render([User], addGenerationPrompt: false));
        // After an assistant message (messages[-1]) no new assistant turn is opened.
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n",
            qwen.Render([System, User, Assistant]));
    }

    [Fact]
    public void Qwen3SingleUserMessage()
    {
        Assert.Equal("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", Qwen3Template.Render([User]));
        Assert.Equal("<|im_start|>user\nHello<|im_end|>\n", Qwen3Template.Render([User], addGenerationPrompt: false));
    }

    [Fact]
    public void Qwen3SystemAndMultiTurn()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([System, User]));
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([User, Assistant, SecondUser]));
    }

    [Fact]
    public void Qwen3EnableThinkingFalseClosesAnEmptyThinkBlock()
    {
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            Qwen3Template.Render([User], true, new Dictionary<string, object?> { ["enable_thinking"] = false }));
        // Undefined (the default) and true both leave thinking to the model.
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([User], true, new Dictionary<string, object?> { ["enable_thinking"] = true }));
    }

    [Fact]
    public void Qwen3DropsThinkingOfEarlierTurnsAndKeepsItAfterTheLastQuery()
    {
        var thought = new ChatMessage("assistant", "<think>\nLet me think.\n</think>\n\nHi there!");
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>\n"
            + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([User, thought, SecondUser]));
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nHi there!<|im_end|>\n",
            Qwen3Template.Render([User, thought], addGenerationPrompt: false));
        // A last assistant message without thinking gets an empty think block.
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHi there!<|im_end|>\n",
            Qwen3Template.Render([User, Assistant], addGenerationPrompt: false));
    }

    [Fact]
    public void Qwen3ToolResponsesDoNotCountAsTheLastQuery()
    {
        var thought = new ChatMessage("assistant", "<think>\nCall the tool.\n</think>\n\nLet me check.");
        var toolResponse = new ChatMessage("user", "<tool_response>\n42\n</tool_response>");
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\nCall the tool.\n</think>\n\nLet me check.<|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([User, thought, toolResponse]));
    }

    [Fact]
    public void Qwen3GroupsConsecutiveToolMessages()
    {
        ChatMessage[] messages =
        [
            User, new("assistant", "Let me check."), new("tool", "42"), new("tool", "43"),
        ];
        Assert.Equal(
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nLet me check.<|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n42\n</tool_response>\n<tool_response>\n43\n</tool_response><|im_end|>\n"
            + "<|im_start|>assistant\n",
            Qwen3Template.Render(messages));
    }

    [Fact]
    public void Qwen3ListsToolsAsJson()
    {
        var tools = new List<object?>
        {
            new Dictionary<string, object?>
            {
                ["type"] = "function",
                ["function"] = new Dictionary<string, object?>
                {
                    ["name"] = "get_weather",
                    ["description"] = "Weather in a city",
                    ["parameters"] = new Dictionary<string, object?> { ["type"] = "object", ["required"] = new List<object?> { "city" } },
                },
            },
        };
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\", \"parameters\": {\"type\": \"object\", \"required\": [\"city\"]}}}"
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
            + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([System, User], true, new Dictionary<string, object?> { ["tools"] = tools }));
    }

    [Fact]
    public void Qwen3RendersToolCallsAndReasoningPassedAsRicherMessages()
    {
        // Messages with more fields than ChatMessage go in through the variables, overriding `messages`.
        var messages = new List<object?>
        {
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "Weather in Paris?" },
            new Dictionary<string, object?>
            {
                ["role"] = "assistant",
                ["content"] = "",
                ["reasoning_content"] = "Use the tool.",
                ["tool_calls"] = new List<object?>
                {
                    new Dictionary<string, object?>
                    {
                        ["type"] = "function",
                        ["function"] = new Dictionary<string, object?>
                        {
                            ["name"] = "get_weather",
                            ["arguments"] = new Dictionary<string, object?> { ["city"] = "Paris" },
                        },
                    },
                },
            },
            new Dictionary<string, object?> { ["role"] = "tool", ["content"] = "18 C" },
        };
        Assert.Equal(
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\nUse the tool.\n</think>\n\n"
            + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n18 C\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
            Qwen3Template.Render([], true, new Dictionary<string, object?> { ["messages"] = messages }));
    }

    [Fact]
    public void OlmoeSingleUserMessage()
    {
        // Without trim_blocks every tag's newline would show; with it only the newlines after {{ }} remain.
        Assert.Equal("<|endoftext|><|user|>\nHello\n<|assistant|>\n", Olmoe.Render([User]));
        Assert.Equal("<|endoftext|><|user|>\nHello\n", Olmoe.Render([User], addGenerationPrompt: false));
    }

    [Fact]
    public void OlmoeSystemAndMultiTurn()
    {
        Assert.Equal(
            "<|endoftext|><|system|>\nYou are a helpful assistant.\n<|user|>\nHello\n<|assistant|>\n",
            Olmoe.Render([System, User]));
        Assert.Equal(
            "<|endoftext|><|user|>\nHello\n<|assistant|>\nHi there!<|endoftext|>\n<|user|>\nWhat is 2+2?\n<|assistant|>\n",
            Olmoe.Render([User, Assistant, SecondUser]));
        Assert.Equal(
            "<|endoftext|><|user|>\nHello\n<|assistant|>\nHi there!<|endoftext|>\n",
            Olmoe.Render([User, Assistant], addGenerationPrompt: false));
    }

    [Fact]
    public void MistralV3WithToolsParsesAndRenders()
    {
        var mistral = ChatTemplate.Parse(MistralV3, "mistral-v3", "<s>", "</s>");
        Assert.Equal(
            "<s>[INST] Hello[/INST] Hi there!</s>[INST] You are a helpful assistant.\n\nWhat is 2+2?[/INST]",
            mistral.Render([System, User, Assistant, SecondUser]));

        var tools = new List<object?>
        {
            new Dictionary<string, object?>
            {
                ["type"] = "function",
                ["function"] = new Dictionary<string, object?>
                {
                    ["name"] = "add",
                    ["description"] = "Adds",
                    ["parameters"] = new Dictionary<string, object?> { ["type"] = "object" },
                    ["return"] = "ignored",
                },
            },
        };
        Assert.Equal(
            "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"add\", \"description\": \"Adds\", \"parameters\": {\"type\": \"object\"}}}]"
            + "[/AVAILABLE_TOOLS][INST] Hello[/INST]",
            mistral.Render([User], true, new Dictionary<string, object?> { ["tools"] = tools }));
    }
}
