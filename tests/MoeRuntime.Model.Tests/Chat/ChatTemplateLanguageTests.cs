using MoeRuntime.Model.Chat;

namespace MoeRuntime.Model.Tests.Chat;

/// <summary>The Jinja subset, construct by construct, with expectations from Jinja's and Python's documented behaviour.</summary>
public class ChatTemplateLanguageTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "  Be brief.  "), new("user", "Hi"), new("assistant", "Hello"), new("user", "Bye"),
    ];

    private static string Render(string source, IReadOnlyDictionary<string, object?>? variables = null, bool addGenerationPrompt = true) =>
        ChatTemplate.Parse(source, "test", "<s>", "</s>")
            .Render(Conversation, addGenerationPrompt, variables ?? new Dictionary<string, object?>());

    [Theory]
    [InlineData("a{{ 'b' }}c", "abc")]
    [InlineData("{{ bos_token }}|{{ eos_token }}", "<s>|</s>")]
    [InlineData("{{ add_generation_prompt }} {{ tools }} {{ none }}", "True None None")]
    [InlineData("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }}", "7 9 3 -4 1 2 1024")]
    [InlineData("{{ 3 ** 39 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }}", "4052555153018976267 0.5 4 64")]
    [InlineData("{{ 7 / 2 }} {{ 1.5 + 1 }} {{ 4 / 2 }}", "3.5 2.5 2.0")]
    [InlineData("{{ 10 / 3 }} {{ 0.1 + 0.2 }} {{ 1e3 }} {{ 1.0e16 }} {{ 1.5e-7 }} {{ 0.0001 }} {{ -2.5e20 }} {{ 123456789012345678.0 }}", "3.3333333333333335 0.30000000000000004 1000.0 1e+16 1.5e-07 0.0001 -2.5e+20 1.2345678901234568e+17")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue")]
    [InlineData("{{ 'ab' * 3 }}", "ababab")]
    [InlineData("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }}", "True False True True True")]
    [InlineData("{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'role' in messages[0] }} {{ 3 not in [1, 2] }}", "True True True True")]
    [InlineData("{{ not true }} {{ true and 'x' }} {{ 0 or 'y' }} {{ '' or 0 }}", "False x y 0")]
    [InlineData("{{ 'yes' if messages else 'no' }}|{{ 'yes' if [] else 'no' }}|{{ 'shown' if false }}|", "yes|no||")]
    [InlineData("{{ [1, 2, 3][-1] }} {{ 'abc'[1] }} {{ {'k': 'v'}['k'] }} {{ {'k': 'v'}.k }}", "3 b v v")]
    [InlineData("{{ [1, 2, 3, 4][1:] }} {{ [1, 2, 3, 4][:-1] }} {{ [1, 2, 3, 4][::-1] }} {{ [1, 2, 3, 4][::2] }} {{ 'hello'[1:3] }}", "[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3] el")]
    [InlineData("{{ ['a', 1, none, true, 2.5] }} {{ {'a': 'b'} }}", "['a', 1, None, True, 2.5] {'a': 'b'}")]
    [InlineData("{{ \"it's\" }} {{ 'say \\\"hi\\\"' }} {{ 'tab\\tnew\\nline' }}", "it's say \"hi\" tab\tnew\nline")]
    [InlineData("{{ 'a' 'b' }}", "ab")]
    public void Expressions(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ messages[0].content | trim }}|{{ messages[0].content | length }}|{{ messages | length }}", "Be brief.|13|4")]
    [InlineData("{{ 'Hello' | upper }} {{ 'Hello' | lower }} {{ 'hello world' | capitalize }} {{ 'hello world' | title }}", "HELLO hello Hello world Hello World")]
    [InlineData("{{ \"they're a1b-c\" | title }} / {{ \"they're a1b-c\".title() }}", "They're A1b-C / They'Re A1B-C")]
    [InlineData("{{ 42 | string }} {{ '42' | int + 1 }} {{ 'x' | int }} {{ '2.5' | float }} {{ -3 | abs }}", "42 43 0 2.5 3")]
    [InlineData("{{ [1, 2] | first }} {{ [1, 2] | last }} {{ ['a', 'b'] | join(', ') }} {{ [3, 1] | reverse | list }}", "1 2 a, b [1, 3]")]
    [InlineData("{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('n') }}", "d  d None")]
    [InlineData("{{ 'a-b-c' | replace('-', '+') }} {{ 'a-b-c' | replace('-', '+', 1) }}", "a+b+c a+b-c")]
    [InlineData("{{ {'a': 1, 'b': [true, none, 'é\\n']} | tojson }}", "{\"a\": 1, \"b\": [true, null, \"é\\n\"]}")]
    [InlineData("{{ {'a': [1]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ]\n}")]
    [InlineData("{{ {'b': 1, 'a': [1, 2]} | tojson(separators=(',', ':'), sort_keys=true) }}", "{\"a\":[1,2],\"b\":1}")]
    [InlineData("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}", "Hi,Bye")]
    [InlineData("{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }}", "['system', 'assistant']")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    public void Filters(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ missing is defined }} {{ missing is undefined }} {{ messages is defined }}", "False True True")]
    [InlineData("{{ none is none }} {{ 'x' is string }} {{ 1 is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }}", "True True False True True True")]
    [InlineData("{{ false is false }} {{ 0 is false }} {{ true is true }} {{ true is boolean }}", "True False True True")]
    [InlineData("{{ messages is iterable }} {{ messages[0] is mapping }} {{ messages is sequence }} {{ 'x' is not mapping }}", "True True True True")]
    [InlineData("{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 'a' is equalto 'a' }} {{ 2 is in [1, 2] }}", "True True True False True True")]
    [InlineData("{{ not missing is defined }} {{ messages[0].reasoning_content is defined }}", "True False")]
    [InlineData("{{ 'x'.splitlines is defined }} {{ messages[0].items is defined }} {{ messages[0].nothing is defined }}", "True True False")]
    public void Tests(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nx'.lstrip('\\n') }}|{{ 'x  '.rstrip() }}", "x|a|x|x")]
    [InlineData("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }}", "True True True")]
    [InlineData("{{ 'a b  c '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }}", "['a', 'b', 'c'] ['a', 'b', '', 'c'] ['a', 'b,c']")]
    [InlineData("{{ 'x</think>y</think>z'.split('</think>')[-1] }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ 'a-b'.replace('-', '') }}", "z HI hi ab")]
    [InlineData("{{ 'abcb'.find('b') }} {{ 'abcb'.count('b') }} {{ ', '.join(['a', 'b']) }}", "1 2 a, b")]
    [InlineData("{{ messages[0].get('role') }} {{ messages[0].get('name', 'none') }} {{ messages[0].keys() | list }}", "system none ['role', 'content']")]
    [InlineData("{% for k, v in messages[1].items() %}{{ k }}:{{ v }} {% endfor %}", "role:user content:Hi ")]
    public void Methods(string source, string expected) => Assert.Equal(expected, Render(source));

    [Fact]
    public void LoopVariables()
    {
        Assert.Equal(
            "0/1/4/first|1/2/3/|2/3/2/|3/4/1/last|",
            Render("{% for m in messages %}{{ loop.index0 }}/{{ loop.index }}/{{ loop.revindex }}/{% if loop.first %}first{% elif loop.last %}last{% endif %}|{% endfor %}"));
        Assert.Equal("4 assistant", Render("{% for m in messages %}{% if loop.last %}{{ loop.length }} {{ loop.previtem.role }}{% endif %}{% endfor %}"));
        Assert.Equal("a b a b ", Render("{% for m in messages %}{{ loop.cycle('a', 'b') }} {% endfor %}"));
    }

    [Fact]
    public void LoopFilterElseBreakAndContinue()
    {
        Assert.Equal("Hi Bye ", Render("{% for m in messages if m.role == 'user' %}{{ m.content }} {% endfor %}"));
        Assert.Equal("2", Render("{% for m in messages if m.role == 'user' %}{% if loop.last %}{{ loop.length }}{% endif %}{% endfor %}"));
        Assert.Equal("none", Render("{% for m in [] %}x{% else %}none{% endfor %}"));
        Assert.Equal("system user ", Render("{% for m in messages %}{% if m.role == 'assistant' %}{% break %}{% endif %}{{ m.role }} {% endfor %}"));
        Assert.Equal("system assistant ", Render("{% for m in messages %}{% if m.role == 'user' %}{% continue %}{% endif %}{{ m.role }} {% endfor %}"));
        Assert.Equal("0,0;0,1;1,0;1,1;", Render("{% for i in range(2) %}{% for j in range(2) %}{{ i }},{{ j }};{% endfor %}{% endfor %}"));
    }

    [Fact]
    public void SetInsideALoopStaysInsideButNamespacesCarryOut()
    {
        // As in Jinja: a plain variable assigned in a loop body is gone after the loop; a namespace attribute is not.
        Assert.Equal(
            "outer 3",
            Render("{% set x = 'outer' %}{% set ns = namespace(count=0) %}{% for m in messages %}{% set x = m.role %}{% if m.role != 'system' %}{% set ns.count = ns.count + 1 %}{% endif %}{% endfor %}{{ x }} {{ ns.count }}"));
        // Assignments inside an if are not scoped.
        Assert.Equal("set", Render("{% if true %}{% set y = 'set' %}{% endif %}{{ y }}"));
        // Each iteration starts from the enclosing value again.
        Assert.Equal("a|a|", Render("{% set v = 'a' %}{% for i in [1, 2] %}{{ v }}|{% set v = 'b' %}{% endfor %}"));
    }

    [Fact]
    public void GenerationBlocksRenderTheirBody()
    {
        // transformers' {% generation %} marks assistant text for training masks; a prompt renders its body.
        Assert.Equal(
            "Hello|",
            Render("{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}|{% endgeneration %}{% endif %}{% endfor %}"));
    }

    [Fact]
    public void UndefinedPrintsAsNothingAndIsFalse()
    {
        Assert.Equal("[]", Render("[{{ missing }}{{ messages[0].missing }}{{ messages[9] }}]"));
        Assert.Equal("no", Render("{% if missing or messages[0].missing %}yes{% else %}no{% endif %}"));
        Assert.Equal("0", Render("{{ missing | length }}{% for x in missing %}x{% endfor %}"));
        Assert.Equal("True", Render("{{ enable_thinking is not defined }}"));
    }

    [Fact]
    public void ExtraVariablesComeThroughWithTheirTypes()
    {
        var variables = new Dictionary<string, object?>
        {
            ["flag"] = true,
            ["count"] = 3,
            ["ratio"] = 0.5f,
            ["names"] = new[] { "a", "b" },
            ["nested"] = System.Text.Json.JsonDocument.Parse("""{"x": [1, 2.5, null]}""").RootElement,
        };
        Assert.Equal("True 4 0.5 ['a', 'b'] {'x': [1, 2.5, None]}", Render("{{ flag }} {{ count + 1 }} {{ ratio }} {{ names }} {{ nested }}", variables));
    }

    [Fact]
    public void TrimBlocksRemovesTheNewlineAfterABlockTagOnly()
    {
        Assert.Equal("a\nb", Render("{% if true %}\na\n{% endif %}\n{{ 'b' }}"));
        Assert.Equal("x\ny", Render("{# comment #}\nx\ny"));
        // '+' at the end of a block tag keeps the newline.
        Assert.Equal("\na", Render("{% if true +%}\na{% endif %}"));
    }

    [Fact]
    public void LstripBlocksRemovesIndentationBeforeBlockTagsOnly()
    {
        Assert.Equal("x\n", Render("    {% if true %}\nx\n    {% endif %}\n"));
        // Not before {{ }}, not when other text precedes the tag on its line, and not with '{%+'.
        Assert.Equal("  x\n", Render("  {{ 'x' }}\n\n"));
        Assert.Equal("a  b", Render("a  {% if true %}b{% endif %}"));
        Assert.Equal("  b", Render("  {%+ if true %}b{% endif %}"));
    }

    [Fact]
    public void OneTrailingNewlineIsDroppedAndLineBreaksAreNormalised()
    {
        // Jinja's keep_trailing_newline is off in transformers: a template's final newline is not output.
        Assert.Equal("x", Render("{{ 'x' }}\n"));
        Assert.Equal("x\n", Render("{{ 'x' }}\n\n"));
        Assert.Equal("a\nb", Render("a\r\nb\r\n"));
    }

    [Fact]
    public void MinusStripsAllWhitespaceOnItsSide()
    {
        Assert.Equal("ab", Render("a  \n  {{- 'b' }}"));
        Assert.Equal("ab", Render("{{ 'a' -}}  \n\n  b"));
        Assert.Equal("a|b|", Render("{%- for x in ['a', 'b'] -%}\n   {{ x }}|\n{%- endfor %}"));
    }

    [Fact]
    public void PlainFormat()
    {
        Assert.Equal(
            "System:   Be brief.  \n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\nAssistant:",
            ChatTemplate.Plain.Render(Conversation));
        Assert.Equal("User: Hi\n\n", ChatTemplate.Plain.Render([new("user", "Hi")], addGenerationPrompt: false));
        Assert.Equal("plain", ChatTemplate.Plain.Name);
    }

    [Fact]
    public void BuiltInModelFormat()
    {
        Assert.Equal(
            "<|user|>\nHi<eos>\n<|assistant|>\nHello<eos>\n<|user|>\nBye<eos>\n<|assistant|>\n",
            ChatTemplate.BuiltInModel.Render([new("user", "Hi"), new("assistant", "Hello"), new("user", "Bye")]));
        Assert.Equal("<|user|>\nHi<eos>\n", ChatTemplate.BuiltInModel.Render([new("user", "Hi")], addGenerationPrompt: false));
        Assert.Equal("<eos>", ChatTemplate.BuiltInModel.EndOfSequence);
    }
}
