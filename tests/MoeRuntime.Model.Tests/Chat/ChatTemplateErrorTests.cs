using MoeRuntime.Model.Chat;

namespace MoeRuntime.Model.Tests.Chat;

public class ChatTemplateErrorTests
{
    private static ChatTemplateException ParseError(string source) =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source, "bad"));

    private static ChatTemplateException RenderError(string source) =>
        Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source, "bad").Render([new ChatMessage("user", "Hi")]));

    [Theory]
    [InlineData("{% macro greet(name) %}Hi {{ name }}{% endmacro %}", "the 'macro' statement is not supported")]
    [InlineData("{% include 'other.jinja' %}", "the 'include' statement is not supported")]
    [InlineData("{% raw %}{{ x }}{% endraw %}", "the 'raw' statement is not supported")]
    [InlineData("{% filter upper %}x{% endfilter %}", "the 'filter' statement is not supported")]
    [InlineData("{% set x %}block{% endset %}", "the block form of 'set'")]
    [InlineData("{% for m in messages recursive %}{% endfor %}", "recursive loops")]
    [InlineData("{{ messages | wordwrap(10) }}", "filter 'wordwrap' is not supported")]
    [InlineData("{{ x is escaped }}", "test 'escaped' is not supported")]
    [InlineData("{{ strftime_now('%Y-%m-%d') }}", "function 'strftime_now' is not supported")]
    [InlineData("{{ 'x'.format(1) }}", "method 'format' is not supported")]
    [InlineData("{% frobnicate %}", "unknown statement 'frobnicate'")]
    public void UnsupportedConstructsAreRefusedAtParseByName(string source, string expected)
    {
        ChatTemplateException error = ParseError(source);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("chat template 'bad', line 1", error.Message, StringComparison.Ordinal);
        Assert.False(error.RaisedByTemplate);
    }

    [Fact]
    public void ErrorsNameTheirLine()
    {
        ChatTemplateException error = ParseError("{% for m in messages %}\n{{ m.content }}\n{{ m.content | wordwrap }}\n{% endfor %}");
        Assert.Equal(3, error.Line);
        Assert.Equal("chat template 'bad', line 3: filter 'wordwrap' is not supported", error.Message);
    }

    [Theory]
    [InlineData("{% if true %}never closed", 1, "the 'if' block opened here is never closed (expected '{% endif %}'")]
    [InlineData("a\n{% for m in messages %}{% if true %}{% endif %}", 2, "the 'for' block opened here is never closed (expected '{% endfor %}'")]
    [InlineData("{% if true %}a{% else %}b", 1, "the 'if' block opened here is never closed")]
    [InlineData("x\n\n{{ messages[0].content", 3, "the tag '{{' opened here is never closed with '}}'")]
    [InlineData("{% if true", 1, "the tag '{%' opened here is never closed with '%}'")]
    [InlineData("{# a comment", 1, "the comment '{#' opened here is never closed with '#}'")]
    [InlineData("{{ 'unterminated }}", 1, "a string literal is never closed")]
    [InlineData("{% endfor %}", 1, "unexpected 'endfor'")]
    [InlineData("{% generation %}x", 1, "the 'generation' block opened here is never closed (expected '{% endgeneration %}'")]
    [InlineData("{% if true %}{% endfor %}", 1, "unexpected 'endfor'")]
    [InlineData("{{ }}", 1, "empty '{{ }}' tag")]
    [InlineData("{{ 1 + }}", 1, "expected an expression")]
    [InlineData("{{ (1 + 2 }}", 1, "expected ')'")]
    [InlineData("{{ a b }}", 1, "unexpected 'b'")]
    [InlineData("{% for in messages %}{% endfor %}", 1, "expected a loop variable, found 'in'")]
    [InlineData("{{ 1 $ 2 }}", 1, "unexpected character '$'")]
    public void MalformedTemplatesGetAClearMessage(string source, int line, string expected)
    {
        ChatTemplateException error = ParseError(source);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(line, error.Line);
    }

    [Fact]
    public void RaiseExceptionCarriesTheTemplatesMessage()
    {
        ChatTemplateException error = RenderError("{% if messages[0].role == 'user' %}{{ raise_exception('No users here!') }}{% endif %}");
        Assert.Equal("No users here!", error.Message);
        Assert.True(error.RaisedByTemplate);
        Assert.Equal(1, error.Line);
    }

    [Theory]
    [InlineData("{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'")]
    [InlineData("{{ missing + 'x' }}", "'missing' is undefined")]
    [InlineData("{{ missing.attribute }}", "'missing' is undefined")]
    [InlineData("{{ 1 // 0 }}", "division by zero")]
    [InlineData("{{ 3 ** 40 }}", "integer overflow in 3 ** 40")]
    [InlineData("{{ 9223372036854775807 + 1 }}", "integer overflow")]
    [InlineData("{{ 'a' < 1 }}", "'<' not supported between 'str' and 'int'")]
    [InlineData("{% for x in 5 %}{% endfor %}", "'int' object is not iterable")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "it is not a namespace()")]
    [InlineData("{{ 'a %s' % 'b' }}", "string formatting with '%' is not supported")]
    [InlineData("{{ messages[0].content.split('') }}", "separator must not be empty")]
    public void RenderFailuresNameTheProblemAndLine(string source, string expected)
    {
        ChatTemplateException error = RenderError("\n" + source);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("chat template 'bad', line 2: ", error.Message, StringComparison.Ordinal);
        Assert.False(error.RaisedByTemplate);
    }

    [Fact]
    public void RangeIsBounded()
    {
        ChatTemplateException error = RenderError("{% for i in range(100000000) %}{% endfor %}");
        Assert.Contains("range() longer than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeepNestingIsRefusedNotACrash()
    {
        string deep = "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}";
        Assert.Contains("nests too deeply", ParseError(deep).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RepetitionIsBounded()
    {
        Assert.Contains("more than 10000000 items", RenderError("{{ 'ab' * 100000000 }}").Message, StringComparison.Ordinal);
    }
}
