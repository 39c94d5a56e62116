@testable import ProxyRuntime
import XCTest

final class JSONValueTests: XCTestCase {
    func testEscapesStringsAndKeepsFieldOrder() {
        let value = JSONValue.object([
            ("b", .string("quote \" backslash \\ newline \n tab \t bell \u{7}")),
            ("a", .array([.int(-3), .bool(true), .null, .double(.infinity)])),
        ])
        XCTAssertEqual(value.serialized(),
                       #"{"b":"quote \" backslash \\ newline \n tab \t bell \u0007","a":[-3,true,null,null]}"#)
    }
}
