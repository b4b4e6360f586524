using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Browser;

/// <summary>
/// Real input for the console page over the DevTools protocol: mouse clicks at an element's centre, keyboard
/// events (Tab, Enter, Space) and text insertion at the focus — what a person does, not <c>element.click()</c>.
/// </summary>
internal sealed class ConsolePageDriver(ChromiumPage page)
{
    public ChromiumPage Page => page;

    public async Task ClickAsync(string id)
    {
        await page.WaitForAsync($"(() => {{ const e = document.getElementById('{id}'); return e && !e.disabled && e.offsetParent !== null; }})()");
        await page.EvaluateAsync($"document.getElementById('{id}').scrollIntoView({{block: 'center'}}), true");
        var box = await page.EvaluateAsync($"(() => {{ const r = document.getElementById('{id}').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()");
        var x = box[0].GetDouble();
        var y = box[1].GetDouble();
        foreach (var type in new[] { "mousePressed", "mouseReleased" })
        {
            await page.Session.SendAsync("Input.dispatchMouseEvent", new JsonObject
            {
                ["type"] = type, ["x"] = x, ["y"] = y, ["button"] = "left", ["clickCount"] = 1,
            });
        }
    }

    /// <summary>Clicks into a field, selects what it holds and types <paramref name="text"/> over it.</summary>
    public async Task FillAsync(string id, string text)
    {
        await ClickAsync(id);
        await page.EvaluateAsync($"document.getElementById('{id}').select(), true");
        await TypeAsync(text);
    }

    public Task TypeAsync(string text) => page.Session.SendAsync("Input.insertText", new JsonObject { ["text"] = text });

    public async Task PressAsync(string key, bool shift = false)
    {
        var (code, keyCode, text) = key switch
        {
            "Tab" => ("Tab", 9, (string?)null),
            "Enter" => ("Enter", 13, "\r"),
            " " => ("Space", 32, " "),
            "Backspace" => ("Backspace", 8, null),
            _ => throw new ArgumentException($"No mapping for key {key}", nameof(key)),
        };
        var down = new JsonObject
        {
            ["type"] = text is null ? "rawKeyDown" : "keyDown", ["key"] = key, ["code"] = code,
            ["windowsVirtualKeyCode"] = keyCode, ["modifiers"] = shift ? 8 : 0,
        };
        if (text is not null)
        {
            down["text"] = text;
        }
        await page.Session.SendAsync("Input.dispatchKeyEvent", down);
        await page.Session.SendAsync("Input.dispatchKeyEvent", new JsonObject
        {
            ["type"] = "keyUp", ["key"] = key, ["code"] = code, ["windowsVirtualKeyCode"] = keyCode, ["modifiers"] = shift ? 8 : 0,
        });
    }

    public async Task<string?> FocusedIdAsync() => (await page.EvaluateAsync("document.activeElement ? document.activeElement.id || document.activeElement.dataset.id || '' : ''")).GetString();

    /// <summary>Presses Tab (at most 80 times) until the element <paramref name="id"/> has the focus; fails when Tab
    /// never reaches it (the control is not keyboard-reachable).</summary>
    public async Task TabToAsync(string id)
    {
        await page.WaitForAsync($"(() => {{ const e = document.getElementById('{id}'); return e && !e.disabled && e.offsetParent !== null; }})()");
        var seen = new List<string?>();
        for (var i = 0; i < 80; i++)
        {
            var focused = await FocusedIdAsync();
            if (focused == id)
            {
                return;
            }
            seen.Add(focused);
            await PressAsync("Tab");
        }
        throw new Xunit.Sdk.XunitException($"Tab never reached #{id}; focus went through: {string.Join(", ", seen)}");
    }

    public async Task<string> TextAsync(string id) =>
        (await page.EvaluateAsync($"document.getElementById('{id}').textContent")).GetString() ?? "";

    public async Task WaitForTextAsync(string id, string contains) =>
        await page.WaitForAsync($"document.getElementById('{id}').textContent.includes({JsonSerializer.Serialize(contains, TestJsonStrings.Default.String)})");

    public static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class TestJsonStrings : System.Text.Json.Serialization.JsonSerializerContext;
